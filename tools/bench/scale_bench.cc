// The scale section (see scale_bench.h). Three parts, each a JSON array or
// object in the result:
//
// end_to_end   A Service of n endpoints in n/100 EndpointSlices in fakek8s's
//              store, fed to the real ServiceDiscovery and ChannelPool by the
//              harness's in-process client, which encodes and decodes the JSON
//              HttpK8sClient would receive. A change is one endpoint of one
//              slice turning not ready or ready again (or all 100 of a slice);
//              its time runs from the slice's write to the store to the pool's
//              new picker; "from_decoding" from the moment the client starts
//              decoding the watch event's line (the harness has encoded it:
//              what the client's own work costs). The pods' channels are fakes: this
//              measures bookkeeping, not connections.
// algorithms   The same changes without JSON or threads: the real
//              ServiceDiscovery (fed decoded objects by an in-memory client)
//              and ChannelPool, against the baseline: the pre-incremental
//              algorithm (merge every slice, sort, compare, diff; rebuild the
//              picker from every entry), re-implemented here over the same
//              types. Also a rolling update of a 5,000-endpoint Service (per
//              pod: new endpoint not ready, then ready, then the old one
//              removed): CPU time in discovery + pool; and the heap held by
//              discovery's endpoint state per endpoint.
// controller   fakek8s's endpoint controller: the time to create a Service's
//              pods (20,000) one by one in the store (each write reconciles
//              its slices) and what one pod's readiness change then costs.

#include "tools/bench/scale_bench.h"

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fakek8s/endpoint_controller.h"
#include "fakek8s/object_store.h"
#include "kubegrpc/channel_pool.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/internal/k8s_json.h"
#include "testing/fake_subchannel.h"
#include "tools/bench/bench_util.h"

namespace kubegrpc::bench {
namespace {

using json = nlohmann::json;
constexpr int kPerSlice = 100;
constexpr int kPort = 8080;

// Addresses that are never dialled (the channels are fakes).
std::string Ip(int i) {
  return absl::StrCat("127.", 100 + i / 65536, ".", i / 256 % 256, ".", i % 256 + 0);
}

std::string SliceName(int s) { return absl::StrCat("big-", s); }

absl::Duration ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

int64_t HeapBytes() {
  struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

// The content of a Service's slices: (address, ready) per endpoint.
using Content = std::vector<std::vector<std::pair<std::string, bool>>>;

Content MakeContent(int endpoints) {
  Content content((endpoints + kPerSlice - 1) / kPerSlice);
  for (int i = 0; i < endpoints; ++i) content[i / kPerSlice].push_back({Ip(i), true});
  return content;
}

EndpointObject Object(const std::string& name,
                      const std::vector<std::pair<std::string, bool>>& endpoints) {
  EndpointObject o;
  o.name = name;
  for (const auto& [address, ready] : endpoints) {
    EndpointInfo e;
    e.address = address;
    e.ready = ready;
    e.serving = ready;
    e.terminating = false;
    e.pod_name = "pod-" + address;
    e.ports = {{"grpc", kPort, "TCP"}};
    o.endpoints.push_back(std::move(e));
  }
  return o;
}

// A K8sClient that hands discovery decoded objects: the list it was given,
// then, per watch stream, the events queued since (one burst).
class MemoryClient : public K8sClient {
 public:
  explicit MemoryClient(std::vector<EndpointObject> objects) : objects_(std::move(objects)) {}
  void Queue(WatchEvent event) { queued_.push_back(std::move(event)); }

  absl::StatusOr<ServiceInfo> GetService(const std::string& ns, const std::string& name,
                                         Cancellation*) override {
    return ServiceInfo{ns, name, {{"grpc", 80, "TCP"}}};
  }
  absl::StatusOr<EndpointObjectList> ListEndpoints(EndpointSource, const std::string&,
                                                   const std::string&, Cancellation*) override {
    EndpointObjectList list;
    list.items = std::move(objects_);
    list.resource_version = "1";
    return list;
  }
  absl::Status WatchEndpoints(EndpointSource, const std::string&, const std::string&,
                              const WatchRequest&,
                              const std::function<void(const WatchEvent&)>& on_event,
                              Cancellation*) override {
    while (!queued_.empty()) {
      WatchEvent e = std::move(queued_.front());
      queued_.pop_front();
      e.last_in_batch = queued_.empty();
      on_event(e);
    }
    return absl::OkStatus();
  }

 private:
  std::vector<EndpointObject> objects_;
  std::deque<WatchEvent> queued_;
};

WatchEvent Modified(EndpointObject object) {
  WatchEvent e;
  e.type = WatchEvent::Type::kModified;
  e.resource_version = "2";
  e.object = std::move(object);
  return e;
}

// What one event costs a consumer of the Service: apply it, publish, update
// the pool. Two implementations.
class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string name() const = 0;
  virtual absl::Status Start(const Content& content) = 0;
  virtual void Event(WatchEvent event) = 0;
  virtual size_t picked() = 0;
};

// kube-grpc: the real ServiceDiscovery and ChannelPool.
class Incremental : public Algorithm {
 public:
  std::string name() const override { return "incremental"; }
  absl::Status Start(const Content& content) override {
    std::vector<EndpointObject> objects;
    for (size_t s = 0; s < content.size(); ++s) objects.push_back(Object(SliceName(s), content[s]));
    client_ = std::make_unique<MemoryClient>(std::move(objects));
    pool_ = std::make_unique<ChannelPool>(
        "demo/big:80", &factory_, PoolOptions{.start_worker = false, .max_endpoints = 1 << 20});
    discovery_ = std::make_unique<ServiceDiscovery>(
        client_.get(), ServiceTarget{.name = "big", .ns = "demo", .port = 80},
        DiscoveryOptions{.resync_interval = absl::ZeroDuration(), .seed = 1},
        [this](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
          pool_->Apply(set, &delta);
        });
    discovery_->RunOnce();  // the list
    if (discovery_->current() == nullptr) return absl::InternalError("the list was not published");
    return absl::OkStatus();
  }
  void Event(WatchEvent event) override {
    client_->Queue(std::move(event));
    discovery_->RunOnce();  // one watch stream: the event
  }
  size_t picked() override {
    return pool_->WithPick([](PoolEndpoint* e, const absl::Status&) { return e != nullptr; })
               ? discovery_->current()->usable().size()
               : 0;
  }
  ~Incremental() override {
    discovery_.reset();
    if (pool_) pool_->Shutdown();
  }

 private:
  testing::FakeSubchannelFactory factory_{{.initial = ChannelState::kReady}};
  std::unique_ptr<MemoryClient> client_;
  std::unique_ptr<ChannelPool> pool_;
  std::unique_ptr<ServiceDiscovery> discovery_;
};

// The algorithm before issue 18, over the same types: every event merges every
// object, sorts and dedupes (EndpointSet::Create), compares with the set before
// and diffs it; the pool applies the delta to its B-tree of entries and builds
// a new picker from every entry.
class Baseline : public Algorithm {
 public:
  std::string name() const override { return "baseline"; }
  absl::Status Start(const Content& content) override {
    for (size_t s = 0; s < content.size(); ++s) {
      objects_[SliceName(s)] = Object(SliceName(s), content[s]);
    }
    Publish();
    return absl::OkStatus();
  }
  void Event(WatchEvent event) override {
    if (event.type == WatchEvent::Type::kDeleted) {
      objects_.erase(event.object.name);
    } else {
      std::string name = event.object.name;
      objects_[name] = std::move(event.object);
    }
    Publish();
  }
  size_t picked() override { return picker_ != nullptr ? picker_->endpoints().size() : 0; }

 private:
  void Publish() {
    std::vector<Endpoint> endpoints;
    for (const auto& [name, object] : objects_) {
      for (Endpoint& e : EndpointsForPort(object, "grpc")) endpoints.push_back(std::move(e));
    }
    std::shared_ptr<const EndpointSet> set = EndpointSet::Create(std::move(endpoints));
    if (current_ != nullptr && *current_ == *set) return;
    EndpointDelta delta = Diff(current_.get(), *set);
    current_ = set;
    for (const Endpoint& e : delta.removed) entries_.erase(e.HostPort());
    for (const Endpoint& e : delta.added) {
      const std::string key = e.HostPort();
      entries_.emplace(key, std::make_shared<PoolEndpoint>(key, e.pod_name, nullptr));
    }
    std::vector<std::shared_ptr<PoolEndpoint>> pick;
    pick.reserve(entries_.size());
    for (const auto& [key, e] : entries_) pick.push_back(e);
    picker_ = std::make_unique<Picker>(std::move(pick), 0, absl::OkStatus());
  }

  std::map<std::string, EndpointObject> objects_;
  std::shared_ptr<const EndpointSet> current_;
  absl::btree_map<std::string, std::shared_ptr<PoolEndpoint>> entries_;
  std::unique_ptr<Picker> picker_;
};

std::unique_ptr<Algorithm> Make(bool incremental) {
  if (incremental) return std::make_unique<Incremental>();
  return std::make_unique<Baseline>();
}

// One-endpoint and whole-slice changes, timed per event.
absl::StatusOr<json> Changes(bool incremental, int endpoints, int trials, int slice_trials) {
  Content content = MakeContent(endpoints);
  std::unique_ptr<Algorithm> a = Make(incremental);
  if (absl::Status s = a->Start(content); !s.ok()) return s;
  if (a->picked() != static_cast<size_t>(endpoints)) {
    return absl::InternalError(
        absl::StrCat(a->name(), ": ", a->picked(), " picked of ", endpoints));
  }
  const int slices = static_cast<int>(content.size());
  std::vector<absl::Duration> one, slice;
  for (int t = 0; t < trials; ++t) {
    const int s = (t * 7) % slices;
    const int i = (t / slices) % kPerSlice;
    content[s][i].second = !content[s][i].second;
    WatchEvent e = Modified(Object(SliceName(s), content[s]));
    const absl::Time start = absl::Now();
    a->Event(std::move(e));
    one.push_back(absl::Now() - start);
  }
  for (int t = 0; t < slice_trials; ++t) {
    const int s = (t * 3) % slices;
    for (auto& [address, ready] : content[s]) ready = !ready;
    WatchEvent e = Modified(Object(SliceName(s), content[s]));
    const absl::Time start = absl::Now();
    a->Event(std::move(e));
    slice.push_back(absl::Now() - start);
    for (auto& [address, ready] : content[s]) ready = !ready;  // and back, untimed
    a->Event(Modified(Object(SliceName(s), content[s])));
  }
  return json{{"one_endpoint_change", Summarize(one).ToJson()},
              {"slice_change", Summarize(slice).ToJson()}};
}

// A rolling update of every pod: per pod, its replacement appears not ready in
// the same slice, turns ready, then the old endpoint goes. CPU time of the
// thread that runs discovery and the pool.
absl::StatusOr<json> Rollout(bool incremental, int endpoints) {
  Content content = MakeContent(endpoints);
  std::unique_ptr<Algorithm> a = Make(incremental);
  if (absl::Status s = a->Start(content); !s.ok()) return s;
  const absl::Duration cpu_start = ThreadCpu();
  int events = 0;
  for (int i = 0; i < endpoints; ++i) {
    auto& slice = content[i / kPerSlice];
    const std::string name = SliceName(i / kPerSlice);
    const size_t pos = static_cast<size_t>(i % kPerSlice);
    slice.push_back({Ip(endpoints + i), false});
    a->Event(Modified(Object(name, slice)));
    slice.back().second = true;
    a->Event(Modified(Object(name, slice)));
    slice[pos] = slice.back();  // the new pod takes the old one's place
    slice.pop_back();
    a->Event(Modified(Object(name, slice)));
    events += 3;
  }
  const absl::Duration cpu = ThreadCpu() - cpu_start;
  if (a->picked() != static_cast<size_t>(endpoints)) {
    return absl::InternalError(
        absl::StrCat(a->name(), " after the rollout: ", a->picked(), " picked of ", endpoints));
  }
  return json{{"events", events}, {"cpu_ms", absl::ToDoubleMilliseconds(cpu)}};
}

// The heap discovery's endpoint state holds per endpoint (slices as decoded,
// the merge state, the published set), after the list.
absl::StatusOr<double> DiscoveryBytesPerEndpoint(bool incremental, int endpoints) {
  Content content = MakeContent(endpoints);
  std::vector<EndpointObject> objects;
  for (size_t s = 0; s < content.size(); ++s) objects.push_back(Object(SliceName(s), content[s]));
  content.clear();
  malloc_trim(0);
  const int64_t before = HeapBytes();
  int64_t after = 0;
  if (incremental) {
    MemoryClient client(std::move(objects));
    ServiceDiscovery discovery(&client, {.name = "big", .ns = "demo", .port = 80},
                               {.resync_interval = absl::ZeroDuration(), .seed = 1}, nullptr);
    discovery.RunOnce();
    after = HeapBytes();
  } else {
    // The baseline kept every object as decoded and the set.
    std::map<std::string, EndpointObject> kept;
    for (EndpointObject& o : objects) {
      std::string name = o.name;
      kept[name] = std::move(o);
    }
    objects.clear();
    std::vector<Endpoint> all;
    for (const auto& [name, o] : kept) {
      for (const EndpointInfo& e : o.endpoints) {
        Endpoint out;
        out.address = e.address;
        out.port = kPort;
        out.pod_name = e.pod_name;
        all.push_back(std::move(out));
      }
    }
    std::shared_ptr<const EndpointSet> set = EndpointSet::Create(std::move(all));
    after = HeapBytes();
  }
  return static_cast<double>(after - before) / endpoints;
}

// --- end to end --------------------------------------------------------------

absl::StatusOr<json> EndToEnd(int endpoints, int trials, int slice_trials) {
  Content content = MakeContent(endpoints);
  const int slices = static_cast<int>(content.size());
  std::vector<json> objects;
  for (int s = 0; s < slices; ++s) {
    objects.push_back(MakeSlice("demo", "big", SliceName(s), kPort, content[s]));
  }
  absl::Mutex decode_mu;
  absl::Time decoding = absl::InfinitePast();  // when the last event's decoding began
  SliceService service("demo", "big", objects, [&] {
    absl::MutexLock lock(&decode_mu);
    decoding = absl::Now();
  });
  testing::FakeSubchannelFactory factory({.initial = ChannelState::kReady});
  // Above the default max_endpoints (10,000), which would keep a subset.
  ChannelPool pool("demo/big:80", &factory, {.max_endpoints = 1 << 20});
  absl::Mutex mu;
  std::vector<absl::Time> applied;  // after each Apply returned
  ServiceDiscovery discovery(
      service.client().get(), {.name = "big", .ns = "demo", .port = 80}, {},
      [&](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
        pool.Apply(set, &delta);
        const absl::Time now = absl::Now();
        absl::MutexLock lock(&mu);
        applied.push_back(now);
      });
  auto applies = [&] {
    absl::MutexLock lock(&mu);
    return applied.size();
  };
  const absl::Time start = absl::Now();
  discovery.Start();
  if (absl::Status s = WaitFor([&] { return applies() >= 1; }, absl::Seconds(300), "first pool");
      !s.ok()) {
    return s;
  }
  absl::Duration first_pool;
  {
    absl::MutexLock lock(&mu);
    first_pool = applied[0] - start;
  }
  int picked = 0;
  for (const EndpointSnapshot& e : pool.Snapshot()) picked += e.picked ? 1 : 0;
  std::vector<absl::Duration> change, change_decoded, slice_change;
  auto write = [&](int s, std::vector<absl::Duration>* from_write,
                   std::vector<absl::Duration>* from_decoding) -> absl::Status {
    json slice = MakeSlice("demo", "big", SliceName(s), kPort, content[s]);
    const size_t before = applies();
    const absl::Time written = absl::Now();
    if (absl::Status st = service.Replace(std::move(slice)); !st.ok()) return st;
    if (absl::Status st = WaitFor([&] { return applies() > before; }, absl::Seconds(60),
                                  "the change to be applied", absl::Microseconds(20));
        !st.ok()) {
      return st;
    }
    absl::MutexLock lock(&mu);
    if (from_write != nullptr) from_write->push_back(applied[before] - written);
    absl::MutexLock decode_lock(&decode_mu);
    if (from_decoding != nullptr) from_decoding->push_back(applied[before] - decoding);
    return absl::OkStatus();
  };
  for (int t = 0; t < trials; ++t) {
    const int s = (t * 7) % slices;
    const int i = (t / slices) % kPerSlice;
    content[s][i].second = !content[s][i].second;
    if (absl::Status st = write(s, &change, &change_decoded); !st.ok()) return st;
  }
  for (int t = 0; t < slice_trials; ++t) {
    const int s = (t * 3) % slices;
    for (auto& [address, ready] : content[s]) ready = !ready;
    if (absl::Status st = write(s, &slice_change, nullptr); !st.ok()) return st;
    for (auto& [address, ready] : content[s]) ready = !ready;
    if (absl::Status st = write(s, nullptr, nullptr); !st.ok()) return st;
  }
  discovery.Stop();
  pool.Shutdown();
  // Where the time of a change goes: decoding one slice's watch event alone.
  const std::string line =
      json{{"type", "MODIFIED"},
           {"object", MakeSlice("demo", "big", SliceName(0), kPort, content[0])}}
          .dump();
  std::vector<absl::Duration> decode;
  for (int t = 0; t < std::max(trials, 5); ++t) {
    const absl::Time t0 = absl::Now();
    absl::StatusOr<WatchEvent> e =
        internal::DecodeWatchEvent(EndpointSource::kEndpointSlices, line);
    decode.push_back(absl::Now() - t0);
    if (!e.ok()) return e.status();
  }
  return json{{"endpoints", endpoints},
              {"slices", slices},
              {"picked_after_first_pool", picked},
              {"first_pool_ms", absl::ToDoubleMilliseconds(first_pool)},
              {"one_endpoint_change", Summarize(change).ToJson()},
              {"one_endpoint_change_from_decoding", Summarize(change_decoded).ToJson()},
              {"slice_change", Summarize(slice_change).ToJson()},
              {"decode_one_slice_event", Summarize(decode).ToJson()},
              {"lists", service.client()->lists()}};
}

// --- the controller ----------------------------------------------------------

json Pod(int i, bool ready) {
  return {
      {"metadata",
       {{"name", absl::StrCat("pod-", i)}, {"namespace", "demo"}, {"labels", {{"app", "big"}}}}},
      {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "x"}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", Ip(i)},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

absl::StatusOr<json> Controller(int pods, int trials) {
  fakek8s::ObjectStore store;
  fakek8s::EndpointController controller;
  controller.Attach(store);
  if (auto s = store.Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}});
      !s.ok()) {
    return s.status();
  }
  if (auto s = store.Create(
          fakek8s::Resource::kServices,
          {{"metadata", {{"name", "big"}, {"namespace", "demo"}}},
           {"spec",
            {{"selector", {{"app", "big"}}},
             {"ports", json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", kPort}}})}}}});
      !s.ok()) {
    return s.status();
  }
  const absl::Time start = absl::Now();
  for (int i = 0; i < pods; ++i) {
    if (auto s = store.Create(fakek8s::Resource::kPods, Pod(i, true)); !s.ok()) return s.status();
  }
  const absl::Duration setup = absl::Now() - start;
  size_t in_slices = 0;
  for (const json& slice : store.List(fakek8s::Resource::kEndpointSlices, "demo").items) {
    in_slices += slice["endpoints"].size();
  }
  if (in_slices != static_cast<size_t>(pods)) {
    return absl::InternalError(
        absl::StrCat("controller: ", in_slices, " endpoints in slices for ", pods, " pods"));
  }
  std::vector<absl::Duration> change;
  for (int t = 0; t < trials; ++t) {
    const int i = (t * 97) % pods;
    const absl::Time t0 = absl::Now();
    if (auto s = store.Update(fakek8s::Resource::kPods, Pod(i, t % 2 == 1)); !s.ok()) {
      return s.status();
    }
    change.push_back(absl::Now() - t0);
  }
  return json{{"pods", pods},
              {"setup_ms", absl::ToDoubleMilliseconds(setup)},
              {"one_pod_change", Summarize(change).ToJson()}};
}

}  // namespace

absl::StatusOr<json> ScaleSection(bool quick) {
  const std::vector<int> sizes =
      quick ? std::vector<int>{500, 5000} : std::vector<int>{500, 5000, 20000};
  const int trials = quick ? 5 : 200;
  const int slice_trials = quick ? 2 : 50;
  json out = {{"section", "scale"}, {"per_slice", kPerSlice}};
  for (int n : sizes) {
    absl::StatusOr<json> e2e = EndToEnd(n, trials, slice_trials);
    if (!e2e.ok()) return e2e.status();
    out["end_to_end"].push_back(*e2e);
  }
  for (int n : sizes) {
    json row = {{"endpoints", n}};
    for (bool incremental : {true, false}) {
      absl::StatusOr<json> c = Changes(incremental, n, trials * 5, slice_trials);
      if (!c.ok()) return c.status();
      row[incremental ? "incremental" : "baseline"] = *c;
    }
    out["algorithms"].push_back(row);
  }
  const int rollout = quick ? 500 : 5000;
  out["rollout"] = {{"endpoints", rollout}};
  for (bool incremental : {true, false}) {
    absl::StatusOr<json> r = Rollout(incremental, rollout);
    if (!r.ok()) return r.status();
    out["rollout"][incremental ? "incremental" : "baseline"] = *r;
  }
  const int memory_n = quick ? 5000 : 20000;
  out["memory"] = {{"endpoints", memory_n}};
  for (bool incremental : {true, false}) {
    absl::StatusOr<double> b = DiscoveryBytesPerEndpoint(incremental, memory_n);
    if (!b.ok()) return b.status();
    out["memory"][incremental ? "incremental_bytes_per_endpoint" : "baseline_bytes_per_endpoint"] =
        *b;
  }
  absl::StatusOr<json> c = Controller(quick ? 1000 : 20000, quick ? 5 : 100);
  if (!c.ok()) return c.status();
  out["controller"] = *c;
  return out;
}

}  // namespace kubegrpc::bench
