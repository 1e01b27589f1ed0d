#include "testing/simulation.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fakek8s/endpoint_controller.h"
#include "fakek8s/object_store.h"
#include "kubegrpc/channel_pool.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/internal/k8s_json.h"
#include "testing/fake_subchannel.h"

namespace kubegrpc::testing {
namespace {

using json = nlohmann::json;

// Virtual time that stops at every scheduled scenario action on its way: a
// sleep across an action's time runs the action at that time, so steps happen
// when the scenario says even while discovery backs off.
class SimClock : public Clock {
 public:
  // `next_due` is the time of the earliest pending action (InfiniteFuture if
  // none); `run_due` runs the actions due at Now().
  SimClock(std::function<absl::Time()> next_due, std::function<void()> run_due)
      : next_due_(std::move(next_due)), run_due_(std::move(run_due)) {}
  absl::Time Now() override { return now_; }
  bool SleepUntil(absl::Time deadline, const Cancellation* cancel) override {
    if (cancel != nullptr && cancel->cancelled()) return false;
    for (absl::Time due = next_due_(); due <= deadline; due = next_due_()) {
      if (due > now_) now_ = due;
      run_due_();
    }
    if (deadline > now_) now_ = deadline;
    return true;
  }
  void Advance(absl::Duration d) { SleepUntil(now_ + d, nullptr); }

 private:
  std::function<absl::Time()> next_due_;
  std::function<void()> run_due_;
  absl::Time now_ = absl::FromUnixSeconds(1767225600);
};

// The K8sClient of the simulation: fakek8s's store, in process, on virtual time.
class StoreClient : public K8sClient {
 public:
  StoreClient(fakek8s::ObjectStore* store, SimClock* clock, absl::Duration tick)
      : store_(store), clock_(clock), tick_(tick) {}
  bool outage = false;
  int64_t gets = 0, lists = 0, watches = 0;

  absl::StatusOr<ServiceInfo> GetService(const std::string& ns, const std::string& name) override {
    ++gets;
    in_stream_ = false;
    if (outage) return absl::UnavailableError("simulated API outage");
    absl::StatusOr<json> s = store_->Get(fakek8s::Resource::kServices, ns, name);
    if (!s.ok()) return absl::NotFoundError(s.status().message());
    return internal::DecodeService(*s);
  }
  absl::StatusOr<EndpointObjectList> ListEndpoints(EndpointSource source, const std::string& ns,
                                                   const std::string& service) override {
    ++lists;
    in_stream_ = false;
    if (outage) return absl::UnavailableError("simulated API outage");
    fakek8s::ObjectStore::ListResult list = store_->List(
        fakek8s::Resource::kEndpointSlices, ns,
        *fakek8s::LabelSelector::Parse("kubernetes.io/service-name=" + service));
    EndpointObjectList out;
    out.resource_version = list.resource_version;
    for (const json& item : list.items) {
      absl::StatusOr<EndpointObject> o = internal::DecodeEndpointSlice(item);
      if (o.ok()) out.items.push_back(*std::move(o));
    }
    return out;
  }
  // One poll: the events since the version, then the stream "ends" a tick later.
  absl::Status WatchEndpoints(EndpointSource, const std::string& ns, const std::string& service,
                              const WatchRequest& request,
                              const std::function<void(const WatchEvent&)>& on_event,
                              Cancellation*) override {
    // Each call here is one poll of what a real watch stream would deliver; a
    // poll that continues the previous one within the stream's timeout is the
    // same stream.
    if (!in_stream_ || clock_->Now() - stream_start_ >= request.timeout) {
      ++watches;
      stream_start_ = clock_->Now();
    }
    in_stream_ = true;
    if (outage) {
      in_stream_ = false;
      clock_->Advance(tick_);
      return absl::UnavailableError("simulated API outage");
    }
    fakek8s::ObjectStore::WatchOptions options;
    options.namespace_ = ns;
    options.labels = *fakek8s::LabelSelector::Parse("kubernetes.io/service-name=" + service);
    options.from_rv = request.resource_version;
    auto watch = store_->StartWatch(fakek8s::Resource::kEndpointSlices, options);
    if (!watch.ok()) {
      WatchEvent expired;
      expired.type = WatchEvent::Type::kError;
      expired.error = absl::OutOfRangeError(watch.status().message());
      in_stream_ = false;
      on_event(expired);
      return absl::OkStatus();
    }
    fakek8s::ObjectStore::WatchEvent e;
    while ((*watch)->Next(absl::ZeroDuration(), &e) == fakek8s::ObjectStore::Watch::Result::kEvent) {
      absl::StatusOr<WatchEvent> event = internal::DecodeWatchEvent(
          EndpointSource::kEndpointSlices,
          json{{"type", e.type}, {"object", e.object}}.dump());
      if (event.ok()) on_event(*event);
    }
    clock_->Advance(tick_);
    return absl::OkStatus();
  }

 private:
  fakek8s::ObjectStore* store_;
  SimClock* clock_;
  absl::Duration tick_;
  bool in_stream_ = false;
  absl::Time stream_start_;
};

class Sim {
 public:
  Sim(const Scenario& scenario, const SimulationOptions& options)
      : scenario_(scenario),
        options_(options),
        clock_([this] { return pending_.empty() ? absl::InfiniteFuture() : pending_.top().when; },
               [this] { RunDue(); }),
        store_([&] {
          fakek8s::ObjectStore::Options o;
          o.seed = options.seed;
          o.now = [this] { return clock_.Now(); };
          return o;
        }()),
        client_(&store_, &clock_, options.tick),
        factory_(FakeSubchannelFactory::Options{.initial = ChannelState::kReady}) {
    controller_.Attach(store_);
  }

  absl::StatusOr<SimulationResult> Run() {
    const DeploymentSpec& d = scenario_.deployment;
    if (!store_.Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", d.ns}}}}).ok() &&
        d.ns != "default") {
      return absl::InternalError("simulation: cannot create the namespace");
    }
    (void)store_.Create(
        fakek8s::Resource::kServices,
        {{"metadata", {{"name", d.name}, {"namespace", d.ns}}},
         {"spec", {{"selector", {{"app", d.name}}},
                   {"ports", json::array({{{"name", "grpc"}, {"port", d.service_port},
                                           {"targetPort", 8080}}})}}}});
    for (int i = 0; i < d.replicas; ++i) AddPod(/*ready_now=*/true);

    DiscoveryOptions discovery = scenario_.balancer.discovery;
    discovery.clock = &clock_;
    discovery.seed = options_.seed;
    discovery.min_healthy_watch = absl::ZeroDuration();
    PoolOptions pool_options = scenario_.balancer.pool;
    pool_options.clock = &clock_;
    pool_options.start_worker = false;
    pool_options.seed = options_.seed;
    if (pool_options.health.mode != HealthCheckOptions::Mode::kNone) {
      // The pods' health answers, from their simulated state: a crashed, gone
      // or hung process does not answer.
      pool_options.health.mode = HealthCheckOptions::Mode::kCustom;
      pool_options.health.ping = [this](PoolEndpoint& e, absl::Time) {
        auto it = pod_by_address_.find(e.host_port());
        if (it == pod_by_address_.end() || !Answers(it->second)) {
          return absl::DeadlineExceededError("no answer");
        }
        return absl::OkStatus();
      };
    }
    ChannelPool pool(absl::StrCat(d.ns, "/", d.name), &factory_, pool_options);
    ServiceDiscovery discovery_loop(
        &client_, {d.name, d.ns, d.service_port, ""}, discovery,
        [&pool](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
          pool.Apply(set, &delta);
        });

    start_ = clock_.Now();
    for (const ScenarioStep& step : scenario_.steps) {
      Schedule(start_ + step.at, [this, step] {
        Trace(absl::StrCat("step ", step.action));
        absl::Status s = Apply(step.action);
        if (!s.ok() && status_.ok()) status_ = s;
      });
    }
    const absl::Time end = start_ + scenario_.duration;
    // Every tick, whatever discovery is doing (a watch poll, a long resync
    // sleep in polling mode, a backoff): pool maintenance (health checks,
    // drains), the trace of picked pods, and a batch of picks.
    std::string last_picked;
    std::function<void()> tick = [&] {
      pool.RunMaintenance();
      std::vector<std::string> picked;
      for (const EndpointSnapshot& e : pool.Snapshot()) {
        if (e.picked && e.state == ChannelState::kReady) picked.push_back(e.pod_name);
      }
      // web-2 before web-10.
      std::sort(picked.begin(), picked.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
      });
      std::string now_picked = absl::StrJoin(picked, ",");
      if (now_picked != last_picked) {
        Trace(absl::StrCat("picked ", now_picked.empty() ? "(none)" : now_picked));
        last_picked = now_picked;
      }
      const int interval = static_cast<int>((clock_.Now() - start_) / options_.tick);
      for (int i = 0; i < options_.picks_per_tick; ++i) {
        pool.WithPick([&](PoolEndpoint* e, const absl::Status&) {
          Pick(e, interval);
          return 0;
        });
      }
      if (clock_.Now() + options_.tick < end) Schedule(clock_.Now() + options_.tick, tick);
    };
    Schedule(start_ + options_.tick, tick);
    while (clock_.Now() < end && status_.ok()) {
      RunDue();
      discovery_loop.RunOnce();  // a list returns at once; the rest advance the clock
    }
    if (!status_.ok()) return status_;
    result_.new_pods_never_used = static_cast<int>(awaiting_first_use_.size());
    result_.api_gets = client_.gets;
    result_.api_lists = client_.lists;
    result_.api_watches = client_.watches;
    result_.load.interval = options_.tick;
    const size_t n = std::max(result_.load.timeline.size(), result_.load.failed_timeline.size());
    result_.load.timeline.resize(n);
    result_.load.failed_timeline.resize(n);
    return result_;
  }

 private:
  struct Pending {
    absl::Time when;
    int64_t seq;
    std::function<void()> action;
    bool operator>(const Pending& o) const {
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };

  void Schedule(absl::Time when, std::function<void()> action) {
    pending_.push({when, next_seq_++, std::move(action)});
  }
  void RunDue() {
    while (!pending_.empty() && pending_.top().when <= clock_.Now()) {
      Pending p = pending_.top();
      pending_.pop();
      p.action();
    }
  }
  struct PodState {
    bool ready = false;        // in the API
    bool terminating = false;  // in the API
    bool deleted = false;
    bool running = true;       // the process
    absl::Time hung_until = absl::InfinitePast();
    bool new_pod = false;      // added after the start, not yet ready
  };
  void Pick(PoolEndpoint* e, int interval) {
    if (e == nullptr || e->state() != ChannelState::kReady) {
      Failed(interval, "UNAVAILABLE");
      return;
    }
    const std::string& pod = pod_by_address_[e->host_port()];
    const PodState& state = state_[pod];
    if (!state.ready || state.terminating || state.deleted) ++result_.calls_to_gone_pods;
    if (auto it = awaiting_first_use_.find(pod); it != awaiting_first_use_.end()) {
      result_.new_pod_first_use.push_back(clock_.Now() - it->second);
      awaiting_first_use_.erase(it);
    }
    if (!Answers(pod)) {
      Failed(interval, state.running && !state.deleted ? "DEADLINE_EXCEEDED" : "UNAVAILABLE");
      return;
    }
    ++result_.load.ok;
    ++result_.load.by_pod[pod];
    if (static_cast<int>(result_.load.timeline.size()) <= interval) {
      result_.load.timeline.resize(interval + 1);
    }
    ++result_.load.timeline[interval][pod];
  }
  bool Answers(const std::string& pod) {
    const PodState& s = state_[pod];
    return s.running && !s.deleted && clock_.Now() >= s.hung_until;
  }
  void Failed(int interval, const std::string& code) {
    ++result_.load.failed;
    ++result_.load.failures[code];
    if (static_cast<int>(result_.load.failed_timeline.size()) <= interval) {
      result_.load.failed_timeline.resize(interval + 1);
    }
    ++result_.load.failed_timeline[interval];
  }

  void Trace(const std::string& what) {
    result_.trace.push_back(absl::StrFormat(
        "t=%.3fs %s", absl::ToDoubleSeconds(clock_.Now() - start_), what));
  }

  std::string AddPod(bool ready_now) {
    const DeploymentSpec& d = scenario_.deployment;
    const int index = next_index_++;
    const std::string name = absl::StrCat(d.name, "-", index);
    const std::string ip = absl::StrCat("10.0.", index / 250, ".", index % 250 + 1);
    pod_by_address_[absl::StrCat(ip, ":8080")] = name;
    (void)store_.Create(
        fakek8s::Resource::kPods,
        {{"metadata", {{"name", name}, {"namespace", d.ns}, {"labels", {{"app", d.name}}}}},
         {"status", {{"phase", "Running"}, {"podIP", ip},
                     {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})}}}});
    pods_.push_back(name);
    state_[name].new_pod = !ready_now;
    if (ready_now || d.readiness_delay <= absl::ZeroDuration()) {
      SetReady(name, true);
    } else {
      Schedule(clock_.Now() + d.readiness_delay, [this, name] { SetReady(name, true); });
    }
    return name;
  }
  void SetReady(const std::string& pod, bool ready) {
    PodState& state = state_[pod];
    if (ready && !state.ready && state.new_pod) {
      awaiting_first_use_[pod] = clock_.Now();
      state.new_pod = false;
    }
    state.ready = ready;
    (void)store_.Mutate(fakek8s::Resource::kPods, scenario_.deployment.ns, pod, [&](json& p) {
      p["status"]["conditions"] =
          json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}});
      return absl::OkStatus();
    });
  }
  std::string AddressOf(const std::string& pod) {
    for (const auto& [address, name] : pod_by_address_) {
      if (name == pod) return address;
    }
    return "";
  }
  absl::Status Delete(const std::string& pod) {
    auto it = std::find(pods_.begin(), pods_.end(), pod);
    if (it == pods_.end()) return absl::NotFoundError("simulation: no pod " + pod);
    pods_.erase(it);
    const std::string ns = scenario_.deployment.ns;
    state_[pod].terminating = true;
    (void)store_.Mutate(fakek8s::Resource::kPods, ns, pod, [](json& p) {
      p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
      return absl::OkStatus();
    });
    Schedule(clock_.Now() + options_.termination_delay, [this, pod, ns] {
      state_[pod].deleted = true;
      state_[pod].running = false;
      factory_.SetState(AddressOf(pod), ChannelState::kTransientFailure);  // the server stops
      (void)store_.Delete(fakek8s::Resource::kPods, ns, pod);
    });
    return absl::OkStatus();
  }

  absl::Status Apply(const std::string& text) {
    absl::StatusOr<StepAction> action = ParseStepAction(text);
    if (!action.ok()) return action.status();
    using Verb = StepAction::Verb;
    switch (action->verb) {
      case Verb::kScale:
        while (static_cast<int>(pods_.size()) < action->replicas) AddPod(false);
        while (static_cast<int>(pods_.size()) > action->replicas) {
          if (absl::Status s = Delete(pods_.back()); !s.ok()) return s;
        }
        return absl::OkStatus();
      case Verb::kDelete:
        return Delete(action->target);
      case Verb::kCrash: {
        const std::string pod = action->target;
        const std::string address = AddressOf(pod);
        if (address.empty()) return absl::NotFoundError("simulation: no pod " + pod);
        factory_.SetState(address, ChannelState::kTransientFailure);
        state_[pod].running = false;
        SetReady(pod, false);
        Schedule(clock_.Now() + action->duration, [this, pod, address] {
          state_[pod].running = true;
          factory_.SetState(address, ChannelState::kReady);
          Schedule(clock_.Now() + scenario_.deployment.readiness_delay,
                   [this, pod] { SetReady(pod, true); });
        });
        return absl::OkStatus();
      }
      case Verb::kReady:
        SetReady(action->target, action->ready);
        return absl::OkStatus();
      case Verb::kRecreate:
        if (absl::Status s = Delete(action->target); !s.ok()) return s;
        AddPod(false);
        return absl::OkStatus();
      case Verb::kRollout: {
        // One new pod, then the oldest old one goes, spaced by the readiness delay.
        std::vector<std::string> old = pods_;
        absl::Duration at = absl::ZeroDuration();
        const absl::Duration step = scenario_.deployment.readiness_delay + options_.tick;
        for (const std::string& pod : old) {
          Schedule(clock_.Now() + at, [this] { AddPod(false); });
          Schedule(clock_.Now() + at + step, [this, pod] { (void)Delete(pod); });
          at += step;
        }
        return absl::OkStatus();
      }
      case Verb::kOutage:
        client_.outage = true;
        Schedule(clock_.Now() + action->duration, [this] { client_.outage = false; });
        return absl::OkStatus();
      case Verb::kCompact:
        store_.Compact();
        return absl::OkStatus();
      case Verb::kDropWatches:
        return absl::OkStatus();  // every poll is a new watch here
      case Verb::kHang: {
        // The process stops answering; its connections stay up (channel READY).
        // The kubelet's readiness probe marks it not ready if the hang lasts.
        const std::string pod = action->target;
        if (AddressOf(pod).empty()) return absl::NotFoundError("simulation: no pod " + pod);
        const absl::Time until = clock_.Now() + action->duration;
        state_[pod].hung_until = until;
        if (action->duration > options_.readiness_probe_detects_after) {
          Schedule(clock_.Now() + options_.readiness_probe_detects_after,
                   [this, pod] { SetReady(pod, false); });
          Schedule(until + scenario_.deployment.readiness_delay, [this, pod] {
            if (!state_[pod].terminating && !state_[pod].deleted) SetReady(pod, true);
          });
        }
        return absl::OkStatus();
      }
    }
    return absl::InternalError("simulation: unreachable");
  }

  const Scenario& scenario_;
  const SimulationOptions options_;
  SimClock clock_;
  fakek8s::ObjectStore store_;
  fakek8s::EndpointController controller_;
  StoreClient client_;
  FakeSubchannelFactory factory_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> pending_;
  int64_t next_seq_ = 0;
  int next_index_ = 0;
  std::vector<std::string> pods_;
  std::map<std::string, std::string> pod_by_address_;
  std::map<std::string, PodState> state_;
  std::map<std::string, absl::Time> awaiting_first_use_;  // new pods: when they turned ready
  absl::Time start_;
  absl::Status status_;
  SimulationResult result_;
};

}  // namespace

absl::StatusOr<SimulationResult> Simulate(const Scenario& scenario,
                                          const SimulationOptions& options) {
  Sim sim(scenario, options);
  return sim.Run();
}

}  // namespace kubegrpc::testing
