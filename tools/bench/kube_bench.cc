// kube_bench: the measurements of the benchmark report other than pick overhead,
// one section per run, each writing a JSON object (read by //tools/bench:report,
// which renders the Markdown report). Everything runs in this process on
// loopback: fakek8s over HTTPS, FakePods (real gRPC servers), the real Balancer.
//
//   bazel run -c opt //tools/bench:kube_bench -- --section=throughput
//
// Sections:
//   throughput    unary calls/s and p50/p99 at fixed concurrency: the pool vs
//                 gRPC's round_robin over the same pods vs one channel to one pod
//                 vs the pool without its call-counting interceptor vs an xDS
//                 channel (gRPC's xDS client fed by kube-grpc's ADS server)
//   least_request round-robin vs least-request over 3 pods, with and without
//                 one pod 10x slower: calls/s and each pod's share
//   convergence   API change -> pool acts (new pod's first call, deleted pod's
//                 last call, crashed pod out of rotation); --mode=watch|poll, or
//                 --mode=xds: through an xDS channel (first and last call only)
//   churn         failed calls through a rolling update of 10 pods and a crash,
//                 at a steady rate; --retry=true|false; --mode=xds: through an xDS channel
//   scale         discovery and pool at 500 / 5,000 / 20,000 endpoints, end to end
//                 and beside the pre-incremental baseline; fakek8s's endpoint
//                 controller at 20,000 pods (tools/bench/scale_bench.cc)
//   api_requests  API requests per Service from many Connect calls
//   memory        RSS per 1,000 idle connected channels; --mode=pool|bare
//   fanout        the control plane (kube-grpc-xds's AdsServer, in a process of its
//                 own) serving 1 / 100 / 1,000 ACKing client streams (AdsFleet)
//                 subscribed to 10 Services: API watches, API change -> last
//                 stream's ACK, memory per stream; a one-endpoint change of a
//                 5,000-endpoint Service pushed to 100 streams
//   serve         (internal) a gRPC server on many loopback addresses, for memory
//   xds_serve     (internal) the control plane alone, for fanout
// --quick shrinks every section to a few trials (CI checks they still run).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/balancer.h"
#include "kubegrpc/channel_pool.h"
#include "kubegrpc/config.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/http_k8s_client.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/xds/ads_server.h"
#include "kubegrpc/xds/xds_channels.h"
#include "nlohmann/json.hpp"
#include "testing/ads_fleet.h"
#include "testing/blackhole.h"
#include "testing/fake_cluster.h"
#include "testing/fake_subchannel.h"
#include "testing/load_generator.h"
#include "testing/proto/echo.grpc.pb.h"
#include "testing/subprocess.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/scale_bench.h"

ABSL_FLAG(std::string, section, "", "which measurement to run (see the file comment)");
ABSL_FLAG(std::string, mode, "", "convergence: watch|poll; memory: pool|bare");
ABSL_FLAG(bool, retry, true, "churn: use the retry helper");
ABSL_FLAG(bool, quick, false, "a few trials only (CI: the benchmark still runs)");
ABSL_FLAG(std::string, out, "", "write the JSON result here (default: stdout)");
ABSL_FLAG(int, endpoints, 1000, "memory/serve: number of endpoints");
ABSL_FLAG(int, threads, 2, "throughput: caller threads (closed loops)");
ABSL_FLAG(std::string, ip_prefix, "", "serve: listen on <prefix><i/250>.<i%250+1>");
ABSL_FLAG(std::string, kubeconfig, "", "xds_serve: the cluster's kubeconfig");

namespace kubegrpc::bench {
namespace {

using json = nlohmann::json;
using kubegrpc::testing::Echo;
using kubegrpc::testing::EchoRequest;
using kubegrpc::testing::EchoResponse;
using kubegrpc::testing::FakeCluster;

bool Quick() { return absl::GetFlag(FLAGS_quick); }

// How many of the Service's endpoints are in the picker.
int Picked(const Balancer& balancer) {
  int n = 0;
  for (const ServiceSnapshot& s : balancer.Snapshot()) {
    for (const EndpointSnapshot& e : s.endpoints) n += e.picked ? 1 : 0;
  }
  return n;
}
bool IsPicked(const Balancer& balancer, const std::string& host_port) {
  for (const ServiceSnapshot& s : balancer.Snapshot()) {
    for (const EndpointSnapshot& e : s.endpoints) {
      if (e.host_port == host_port) return e.picked;
    }
  }
  return false;
}

struct ClusterFixture {
  std::unique_ptr<FakeCluster> cluster;
  std::unique_ptr<Balancer> balancer;
  StubHandle<Echo> handle;
};

absl::StatusOr<ClusterFixture> StartCluster(int replicas, BalancerOptions options,
                                            absl::Duration readiness_delay = absl::ZeroDuration()) {
  ClusterFixture f;
  absl::StatusOr<std::unique_ptr<FakeCluster>> cluster = FakeCluster::Start();
  if (!cluster.ok()) return cluster.status();
  f.cluster = *std::move(cluster);
  if (absl::Status s = f.cluster->CreateDeployment(
          {.name = "web", .replicas = replicas, .readiness_delay = readiness_delay});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<Balancer>> balancer =
      Balancer::Create(f.cluster->client_config(), std::move(options));
  if (!balancer.ok()) return balancer.status();
  f.balancer = *std::move(balancer);
  absl::StatusOr<StubHandle<Echo>> handle = f.balancer->Connect<Echo>("web.demo:80");
  if (!handle.ok()) return handle.status();
  f.handle = *std::move(handle);
  Balancer* b = f.balancer.get();
  if (absl::Status s = WaitFor([&] { return Picked(*b) == replicas; }, absl::Seconds(60),
                               "every pod in the picker");
      !s.ok()) {
    return s;
  }
  return f;
}

// --- throughput -----------------------------------------------------------------

// The pool as it was before every channel counted its calls: real channels
// without the interceptor (what the interceptor costs is the difference).
class UncountedFactory : public SubchannelFactory {
 public:
  std::unique_ptr<Subchannel> Create(const Endpoint& endpoint,
                                     std::shared_ptr<CallCounters>) override {
    return real_.Create(endpoint, nullptr);
  }

 private:
  GrpcSubchannelFactory real_{grpc::InsecureChannelCredentials(), grpc::ChannelArguments()};
};

// Another Balancer on the fixture's cluster, connected and with every pod picked.
absl::StatusOr<std::pair<std::unique_ptr<Balancer>, StubHandle<Echo>>> SecondBalancer(
    const ClusterFixture& f, int replicas, BalancerOptions options) {
  absl::StatusOr<std::unique_ptr<Balancer>> balancer =
      Balancer::Create(f.cluster->client_config(), std::move(options));
  if (!balancer.ok()) return balancer.status();
  absl::StatusOr<StubHandle<Echo>> handle = (*balancer)->Connect<Echo>("web.demo:80");
  if (!handle.ok()) return handle.status();
  Balancer* b = balancer->get();
  if (absl::Status s = WaitFor([&] { return Picked(*b) == replicas; }, absl::Seconds(60),
                               "every pod in the second balancer's picker");
      !s.ok()) {
    return s;
  }
  return std::make_pair(*std::move(balancer), *std::move(handle));
}

struct ModeResult {
  int64_t calls = 0;
  int64_t failed = 0;
  absl::Duration elapsed;
  std::vector<absl::Duration> latencies;
};

// `threads` closed loops of unary Echo calls for `duration`; `call` makes one.
ModeResult ClosedLoop(int threads, absl::Duration duration,
                      const std::function<grpc::Status(EchoResponse*)>& call) {
  std::vector<ModeResult> per(threads);
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ModeResult& r = per[t];
      r.latencies.reserve(1 << 16);
      while (absl::Now() < end) {
        EchoResponse response;
        const absl::Time begin = absl::Now();
        grpc::Status status = call(&response);
        r.latencies.push_back(absl::Now() - begin);
        ++r.calls;
        if (!status.ok()) ++r.failed;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  ModeResult total;
  total.elapsed = absl::Now() - start;
  for (ModeResult& r : per) {
    total.calls += r.calls;
    total.failed += r.failed;
    total.latencies.insert(total.latencies.end(), r.latencies.begin(), r.latencies.end());
  }
  return total;
}

absl::StatusOr<json> Throughput() {
  const int pods = 3;
  const int threads = absl::GetFlag(FLAGS_threads);
  // Many short rounds in rotating order: drift on a noisy 2-core machine (client
  // and servers share it) then hits every mode alike, and the totals compare
  // equal amounts of time.
  const int rounds = Quick() ? 2 : 40;
  const absl::Duration per_round = Quick() ? absl::Milliseconds(100) : absl::Milliseconds(300);
  absl::StatusOr<ClusterFixture> f = StartCluster(pods, {});
  if (!f.ok()) return f.status();
  std::vector<std::string> addresses;
  for (const std::string& name : f->cluster->Pods("web")) {
    addresses.push_back(f->cluster->pod(name)->address());
  }
  // gRPC's own round_robin over the same pods, from a static ipv4: target.
  grpc::ChannelArguments rr_args;
  rr_args.SetLoadBalancingPolicyName("round_robin");
  std::shared_ptr<grpc::Channel> rr_channel =
      grpc::CreateCustomChannel(absl::StrCat("ipv4:", absl::StrJoin(addresses, ",")),
                                grpc::InsecureChannelCredentials(), rr_args);
  std::unique_ptr<Echo::Stub> rr = Echo::NewStub(rr_channel);
  std::unique_ptr<Echo::Stub> single =
      Echo::NewStub(grpc::CreateChannel(addresses[0], grpc::InsecureChannelCredentials()));
  EchoRequest request;
  request.set_message("bench");

  auto unary = [&request](Echo::Stub* stub, EchoResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return stub->Echo(&context, request, response);
  };
  StubHandle<Echo> handle = f->handle;
  BalancerOptions uncounted_options;
  uncounted_options.subchannel_factory = std::make_shared<UncountedFactory>();
  auto uncounted = SecondBalancer(*f, pods, std::move(uncounted_options));
  if (!uncounted.ok()) return uncounted.status();
  StubHandle<Echo> uncounted_handle = uncounted->second;
  // gRPC's own channel over xDS, from kube-grpc's in-process ADS server.
  absl::StatusOr<std::unique_ptr<kubegrpc::xds::XdsChannels>> xds =
      kubegrpc::xds::XdsChannels::Start(f->cluster->client_config());
  if (!xds.ok()) return xds.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> xds_channel = (*xds)->Channel("web.demo:80");
  if (!xds_channel.ok()) return xds_channel.status();
  std::unique_ptr<Echo::Stub> via_xds = Echo::NewStub(*xds_channel);
  {
    // Every pod answers through it before it is measured.
    std::set<std::string> seen;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (seen.size() < static_cast<size_t>(pods) && absl::Now() < deadline) {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      EchoResponse response;
      if (via_xds->Echo(&context, request, &response).ok()) seen.insert(response.pod_name());
    }
    if (seen.size() < static_cast<size_t>(pods)) {
      return absl::DeadlineExceededError("the xDS channel did not reach every pod in 60 s");
    }
  }
  struct Mode {
    std::string name;
    std::string label;
    std::function<grpc::Status(EchoResponse*)> call;
    ModeResult total;
    std::vector<double> rates;
  };
  std::vector<Mode> modes = {
      {"pool", "kube-grpc pool (StubHandle::Next + call)",
       [&](EchoResponse* r) {
         absl::StatusOr<std::shared_ptr<Echo::Stub>> stub = handle.Next();
         if (!stub.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no pod");
         return unary(stub->get(), r);
       }},
      {"round_robin", "gRPC round_robin over the same pods (ipv4: target)",
       [&](EchoResponse* r) { return unary(rr.get(), r); }},
      {"single", "one channel to one pod", [&](EchoResponse* r) { return unary(single.get(), r); }},
      {"pool_uncounted", "kube-grpc pool without the call-counting interceptor",
       [&](EchoResponse* r) {
         absl::StatusOr<std::shared_ptr<Echo::Stub>> stub = uncounted_handle.Next();
         if (!stub.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no pod");
         return unary(stub->get(), r);
       }},
      {"xds", "gRPC's xDS channel fed by kube-grpc (XdsChannels, xds:/// target)",
       [&](EchoResponse* r) { return unary(via_xds.get(), r); }},
  };
  // Warm up every path (connections, allocator, thread pools).
  for (Mode& m : modes) ClosedLoop(threads, absl::Milliseconds(Quick() ? 50 : 500), m.call);
  // Rounds in rotating order, so drift on a noisy machine hits every mode alike.
  std::vector<double> ratios;
  std::vector<double> counted_ratios;  // pool / pool without the interceptor
  std::vector<double> xds_ratios;      // xDS channel / round_robin
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> round_rate(modes.size());
    for (size_t k = 0; k < modes.size(); ++k) {
      const size_t i = (k + round) % modes.size();
      ModeResult r = ClosedLoop(threads, per_round, modes[i].call);
      round_rate[i] = r.calls / absl::ToDoubleSeconds(r.elapsed);
      modes[i].rates.push_back(round_rate[i]);
      modes[i].total.calls += r.calls;
      modes[i].total.failed += r.failed;
      modes[i].total.elapsed += r.elapsed;
      modes[i].total.latencies.insert(modes[i].total.latencies.end(), r.latencies.begin(),
                                      r.latencies.end());
    }
    ratios.push_back(round_rate[0] / round_rate[1]);
    counted_ratios.push_back(round_rate[0] / round_rate[3]);
    xds_ratios.push_back(round_rate[4] / round_rate[1]);
  }
  // The mean of per-round ratios and its 95 % interval.
  struct MeanCi {
    double mean = 0, low = 0, high = 0;
  };
  auto mean_ci = [](const std::vector<double>& xs) {
    MeanCi m;
    double var = 0;
    for (double x : xs) m.mean += x / xs.size();
    for (double x : xs) var += (x - m.mean) * (x - m.mean) / std::max<size_t>(1, xs.size() - 1);
    const double half = 1.96 * std::sqrt(var / xs.size());
    m.low = m.mean - half;
    m.high = m.mean + half;
    return m;
  };
  const MeanCi pool_ci = mean_ci(ratios);
  const MeanCi counted_ci = mean_ci(counted_ratios);
  const MeanCi xds_ci = mean_ci(xds_ratios);
  auto rate = [&](size_t i) {
    return modes[i].total.calls / absl::ToDoubleSeconds(modes[i].total.elapsed);
  };
  std::sort(ratios.begin(), ratios.end());
  const double total_ratio =
      (modes[0].total.calls / absl::ToDoubleSeconds(modes[0].total.elapsed)) /
      (modes[1].total.calls / absl::ToDoubleSeconds(modes[1].total.elapsed));
  json out = {{"section", "throughput"},
              {"pods", pods},
              {"threads", threads},
              {"rounds", rounds},
              {"seconds_per_round", absl::ToDoubleSeconds(per_round)},
              {"pool_vs_round_robin_ratio", total_ratio},
              {"pool_vs_round_robin_median_ratio", ratios[ratios.size() / 2]},
              {"pool_vs_round_robin_mean_ratio", pool_ci.mean},
              {"pool_vs_round_robin_ci95", {pool_ci.low, pool_ci.high}},
              {"pool_vs_round_robin_p10_ratio", ratios[ratios.size() / 10]},
              {"pool_vs_round_robin_p90_ratio", ratios[ratios.size() * 9 / 10]},
              {"pool_vs_uncounted_ratio", rate(0) / rate(3)},
              {"pool_vs_uncounted_ci95", {counted_ci.low, counted_ci.high}},
              {"xds_vs_round_robin_ratio", rate(4) / rate(1)},
              {"xds_vs_round_robin_ci95", {xds_ci.low, xds_ci.high}},
              {"xds_vs_pool_ratio", rate(4) / rate(0)},
              {"modes", json::array()}};
  for (Mode& m : modes) {
    Stats lat = Summarize(m.total.latencies);
    out["modes"].push_back(
        {{"name", m.name},
         {"label", m.label},
         {"calls", m.total.calls},
         {"failed", m.total.failed},
         {"calls_per_second", m.total.calls / absl::ToDoubleSeconds(m.total.elapsed)},
         {"p50_us", lat.median_ms * 1000},
         {"p99_us", lat.p99_ms * 1000}});
  }
  return out;
}

// --- least_request ----------------------------------------------------------------

// Round-robin and least-request Balancers over the same 3 pods, each pod
// answering after `base` (2 ms: calls wait on the pod, not on this machine's 2
// cores); then with one pod 10x slower. Closed loops of 8 callers, the four
// runs interleaved over several rounds.
absl::StatusOr<json> LeastRequest() {
  const int pods = 3;
  const int threads = 8;
  const absl::Duration base = absl::Milliseconds(2);
  const int rounds = Quick() ? 1 : 4;
  const absl::Duration per_run = Quick() ? absl::Milliseconds(200) : absl::Seconds(2);
  absl::StatusOr<ClusterFixture> f = StartCluster(pods, {});
  if (!f.ok()) return f.status();
  BalancerOptions lr_options;
  lr_options.pool.policy = PickPolicy::kLeastRequest;
  auto lr = SecondBalancer(*f, pods, std::move(lr_options));
  if (!lr.ok()) return lr.status();
  const std::vector<std::string> names = f->cluster->Pods("web");
  const std::string slow = names.back();
  std::map<std::string, std::unique_ptr<std::atomic<int64_t>>> by_pod;
  for (const std::string& n : names) by_pod[n] = std::make_unique<std::atomic<int64_t>>(0);
  EchoRequest request;
  request.set_message("bench");
  auto call_on = [&](const StubHandle<Echo>& handle) {
    return [&, handle](EchoResponse* response) {
      absl::StatusOr<std::shared_ptr<Echo::Stub>> stub = handle.Next();
      if (!stub.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no pod");
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      grpc::Status status = (*stub)->Echo(&context, request, response);
      auto it = by_pod.find(response->pod_name());
      if (status.ok() && it != by_pod.end()) it->second->fetch_add(1);
      return status;
    };
  };
  struct Run {
    std::string policy;
    bool slow_pod;
    std::function<grpc::Status(EchoResponse*)> call;
    int64_t calls = 0;
    int64_t failed = 0;
    absl::Duration elapsed;
    std::map<std::string, int64_t> by_pod;
  };
  std::vector<Run> runs = {{"round_robin", false, call_on(f->handle)},
                           {"least_request", false, call_on(lr->second)},
                           {"round_robin", true, call_on(f->handle)},
                           {"least_request", true, call_on(lr->second)}};
  for (const std::string& n : names) f->cluster->pod(n)->SetLatency(base);
  for (Run& r : runs) ClosedLoop(threads, absl::Milliseconds(Quick() ? 50 : 300), r.call);
  for (int round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < runs.size(); ++k) {
      Run& r = runs[(k + round) % runs.size()];
      f->cluster->pod(slow)->SetLatency(r.slow_pod ? base * 10 : base);
      for (auto& [n, c] : by_pod) c->store(0);
      ModeResult m = ClosedLoop(threads, per_run, r.call);
      r.calls += m.calls;
      r.failed += m.failed;
      r.elapsed += m.elapsed;
      for (auto& [n, c] : by_pod) r.by_pod[n] += c->load();
    }
  }
  json out = {{"section", "least_request"},
              {"pods", pods},
              {"threads", threads},
              {"rounds", rounds},
              {"seconds_per_run", absl::ToDoubleSeconds(per_run)},
              {"base_latency_ms", absl::ToDoubleMilliseconds(base)},
              {"slow_latency_ms", absl::ToDoubleMilliseconds(base * 10)},
              {"runs", json::array()}};
  for (const Run& r : runs) {
    int64_t answered = 0;
    for (const auto& [n, c] : r.by_pod) answered += c;
    out["runs"].push_back(
        {{"policy", r.policy},
         {"slow_pod", r.slow_pod},
         {"calls", r.calls},
         {"failed", r.failed},
         {"calls_per_second", r.calls / std::max(1e-9, absl::ToDoubleSeconds(r.elapsed))},
         {"slow_pod_share",
          answered > 0 ? static_cast<double>(r.by_pod.at(slow)) / answered : 0.0}});
  }
  return out;
}

// --- convergence ------------------------------------------------------------------

const testing::ClusterEvent* FindEvent(const std::vector<testing::ClusterEvent>& events,
                                       const std::string& pod, testing::ClusterEvent::Kind kind) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->pod == pod && it->kind == kind) return &*it;
  }
  return nullptr;
}

// Convergence through an xDS channel: the same changes, with gRPC's xDS
// client (fed by kube-grpc's ADS server) picking: a new ready pod's first call
// and a deleted pod's last call, under steady load on the channel.
absl::StatusOr<json> XdsConvergence() {
  const int trials = Quick() ? 2 : 50;
  const absl::Duration drain = absl::Milliseconds(300);
  absl::StatusOr<ClusterFixture> f = StartCluster(3, {});
  if (!f.ok()) return f.status();
  absl::StatusOr<std::unique_ptr<kubegrpc::xds::XdsChannels>> xds =
      kubegrpc::xds::XdsChannels::Start(f->cluster->client_config());
  if (!xds.ok()) return xds.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = (*xds)->Channel("web.demo:80");
  if (!channel.ok()) return channel.status();
  std::unique_ptr<Echo::Stub> stub = Echo::NewStub(*channel);
  // Steady load: 4 threads, 3,000 calls/s in all, each call waiting for a ready pod.
  const double rate = 3000;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      const absl::Duration gap = absl::Seconds(4 / rate);
      absl::Time next = absl::Now();
      while (!stop.load()) {
        grpc::ClientContext context;
        context.set_wait_for_ready(true);
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        EchoRequest request;
        EchoResponse response;
        (stub->Echo(&context, request, &response).ok() ? ok : failed)++;
        next += gap;
        absl::SleepFor(next - absl::Now());
      }
    });
  }
  std::vector<absl::Duration> first_call, last_call;
  absl::Status error;
  for (int t = 0; t < trials && error.ok(); ++t) {
    if (error = f->cluster->ScaleTo("web", 4); !error.ok()) break;
    const std::string pod = f->cluster->Pods("web").back();
    testing::FakePod* fake = f->cluster->pod(pod);
    error = WaitFor([&] { return fake->first_call_at() != absl::InfinitePast(); },
                    absl::Seconds(30), "the new pod's first call through the xDS channel");
    if (!error.ok()) break;
    first_call.push_back(
        fake->first_call_at() -
        FindEvent(f->cluster->Events(), pod, testing::ClusterEvent::Kind::kReady)->at);
    if (error = f->cluster->DeletePod(pod, drain); !error.ok()) break;
    const auto after = f->cluster->Events();
    const auto* terminating = FindEvent(after, pod, testing::ClusterEvent::Kind::kTerminating);
    const auto* stopped = FindEvent(after, pod, testing::ClusterEvent::Kind::kStopped);
    last_call.push_back(std::max(absl::ZeroDuration(), stopped->last_call - terminating->at));
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  if (!error.ok()) return error;
  return json{{"section", "convergence"},
              {"mode", "xds"},
              {"trials", trials},
              {"load_calls_per_second", rate},
              {"drain_ms", absl::ToDoubleMilliseconds(drain)},
              {"new_pod_first_call", Summarize(first_call).ToJson()},
              {"deleted_pod_last_call", Summarize(last_call).ToJson()},
              {"load_ok", ok.load()},
              {"load_failed", failed.load()}};
}

absl::StatusOr<json> Convergence() {
  const std::string mode = absl::GetFlag(FLAGS_mode).empty() ? "watch" : absl::GetFlag(FLAGS_mode);
  if (mode == "xds") return XdsConvergence();
  if (mode != "watch" && mode != "poll") return absl::InvalidArgumentError("--mode=watch|poll|xds");
  const bool poll = mode == "poll";
  // The original: list every 60 s, ping every connection every 1 s. Scaled 1:100.
  const double scale = 100;
  const absl::Duration poll_interval = absl::Seconds(60) / scale;
  const absl::Duration ping_interval = absl::Seconds(1) / scale;
  BalancerOptions options;
  if (poll) {
    options.discovery.watch = false;
    options.discovery.resync_interval = poll_interval;
    options.pool.health.mode = HealthCheckOptions::Mode::kGrpcHealth;
    options.pool.health.interval = ping_interval;
    options.pool.health.timeout = ping_interval;
  }
  const int trials = Quick() ? 2 : (poll ? 20 : 50);
  // A pod's preStop drain must outlast the pool's reaction for its last call to
  // say when the pool stopped using it.
  const absl::Duration drain = poll ? poll_interval * 2 : absl::Milliseconds(300);
  absl::StatusOr<ClusterFixture> f = StartCluster(3, std::move(options));
  if (!f.ok()) return f.status();
  const double rate = 3000;
  testing::LoadGenerator load(f->handle, {.threads = 4, .rate = rate, .retry = true});
  load.Start();
  std::vector<absl::Duration> first_call, last_call, crash_out, crash_back;
  int64_t calls_while_leaving = 0;
  absl::Status error;
  // Polling: start each change at a random point of the poll cycle (fixed seed);
  // otherwise trials lock onto the cycle and all measure the same phase.
  std::mt19937 rng(7);
  auto random_phase = [&] {
    if (!poll) return;
    absl::SleepFor(absl::Microseconds(rng() % absl::ToInt64Microseconds(poll_interval)));
  };
  for (int t = 0; t < trials && error.ok(); ++t) {
    // A new pod turns ready: until its first call.
    random_phase();
    if (error = f->cluster->ScaleTo("web", 4); !error.ok()) break;
    const std::string pod = f->cluster->Pods("web").back();
    testing::FakePod* fake = f->cluster->pod(pod);
    error = WaitFor([&] { return fake->first_call_at() != absl::InfinitePast(); },
                    absl::Seconds(30), "the new pod's first call");
    if (!error.ok()) break;
    const auto events = f->cluster->Events();
    first_call.push_back(fake->first_call_at() -
                         FindEvent(events, pod, testing::ClusterEvent::Kind::kReady)->at);
    // Deleted (terminating) while serving its drain: until its last call.
    random_phase();
    if (error = f->cluster->DeletePod(pod, drain); !error.ok()) break;
    const auto after = f->cluster->Events();
    const auto* terminating = FindEvent(after, pod, testing::ClusterEvent::Kind::kTerminating);
    const auto* stopped = FindEvent(after, pod, testing::ClusterEvent::Kind::kStopped);
    last_call.push_back(std::max(absl::ZeroDuration(), stopped->last_call - terminating->at));
    calls_while_leaving += stopped->served - terminating->served;
    // A crash: the container dies (the API says not-ready right after) until
    // the pool has taken it out of rotation.
    const std::string victim = f->cluster->Pods("web")[t % 3];
    const std::string address = f->cluster->pod(victim)->address();
    random_phase();
    const size_t seen = f->cluster->Events().size();
    std::thread crash([&] {
      (void)f->cluster->CrashPod(victim, drain);  // restarts after `drain`
    });
    absl::Status out = WaitFor(
        [&] {
          const auto events = f->cluster->Events();
          bool crashed = false;
          for (size_t i = seen; i < events.size(); ++i) {
            crashed |=
                events[i].pod == victim && events[i].kind == testing::ClusterEvent::Kind::kCrashed;
          }
          return crashed && !IsPicked(*f->balancer, address);
        },
        absl::Seconds(30), "the crashed pod to leave the rotation");
    const absl::Time left = absl::Now();
    crash.join();
    if (!out.ok()) {
      error = out;
      break;
    }
    const auto crashed_events = f->cluster->Events();
    crash_out.push_back(
        left - FindEvent(crashed_events, victim, testing::ClusterEvent::Kind::kCrashed)->at);
    error = WaitFor([&] { return IsPicked(*f->balancer, address); }, absl::Seconds(30),
                    "the restarted pod back in rotation");
    if (error.ok()) {
      crash_back.push_back(
          absl::Now() - FindEvent(crashed_events, victim, testing::ClusterEvent::Kind::kReady)->at);
    }
  }
  testing::LoadReport report = load.Stop();
  if (!error.ok()) return error;
  json out = {{"section", "convergence"},
              {"mode", mode},
              {"trials", trials},
              {"load_calls_per_second", rate},
              {"drain_ms", absl::ToDoubleMilliseconds(drain)},
              {"new_pod_first_call", Summarize(first_call).ToJson()},
              {"deleted_pod_last_call", Summarize(last_call).ToJson()},
              {"crashed_pod_out_of_rotation", Summarize(crash_out).ToJson()},
              {"restarted_pod_back_in_rotation", Summarize(crash_back).ToJson()},
              {"calls_to_terminating_pods", calls_while_leaving},
              {"load_ok", report.ok},
              {"load_failed", report.failed}};
  if (poll) {
    out["scale"] = scale;
    out["poll_interval_ms"] = absl::ToDoubleMilliseconds(poll_interval);
    out["ping_interval_ms"] = absl::ToDoubleMilliseconds(ping_interval);
  }
  return out;
}

// --- churn ---------------------------------------------------------------------------

absl::StatusOr<json> Churn() {
  const bool retry = absl::GetFlag(FLAGS_retry);
  const bool xds = absl::GetFlag(FLAGS_mode) == "xds";
  const int pods = Quick() ? 3 : 10;
  absl::StatusOr<ClusterFixture> f = StartCluster(pods, {}, absl::Milliseconds(100));
  if (!f.ok()) return f.status();
  const double rate = 1000;
  const testing::LoadOptions options{.threads = 4, .rate = rate, .retry = retry};
  // --mode=xds: the same load through an xDS channel, gRPC retrying as the
  // Service's kube-grpc.io/retry annotation asks (with --retry).
  std::unique_ptr<kubegrpc::xds::XdsChannels> channels;
  std::unique_ptr<testing::LoadGenerator> load_owner;
  if (xds) {
    if (retry) {
      absl::StatusOr<json> annotated = f->cluster->k8s().store().Mutate(
          fakek8s::Resource::kServices, "demo", "web", [](json& service) {
            service["metadata"]["annotations"]["kube-grpc.io/retry"] =
                R"({"retryOn": "unavailable,cancelled", "numRetries": 2})";
            return absl::OkStatus();
          });
      if (!annotated.ok()) return annotated.status();
    }
    absl::StatusOr<std::unique_ptr<kubegrpc::xds::XdsChannels>> started =
        kubegrpc::xds::XdsChannels::Start(f->cluster->client_config());
    if (!started.ok()) return started.status();
    channels = *std::move(started);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = channels->Channel("web.demo:80");
    if (!channel.ok()) return channel.status();
    (*channel)->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    load_owner = std::make_unique<testing::LoadGenerator>(*channel, options);
  } else {
    load_owner = std::make_unique<testing::LoadGenerator>(f->handle, options);
  }
  testing::LoadGenerator& load = *load_owner;
  load.Start();
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Time rollout_start = absl::Now();
  absl::Status error = f->cluster->RollingUpdate("web", /*max_surge=*/1, /*max_unavailable=*/0);
  const absl::Duration rollout = absl::Now() - rollout_start;
  testing::LoadReport after_rollout = load.Snapshot();
  absl::SleepFor(absl::Milliseconds(500));
  if (error.ok()) error = f->cluster->CrashPod(f->cluster->Pods("web")[0], absl::Milliseconds(500));
  absl::SleepFor(absl::Milliseconds(500));
  testing::LoadReport report = load.Stop();
  if (!error.ok()) return error;
  int64_t leaving = 0;
  const auto events = f->cluster->Events();
  for (const auto& e : events) {
    if (e.kind != testing::ClusterEvent::Kind::kTerminating) continue;
    const auto* stopped = FindEvent(events, e.pod, testing::ClusterEvent::Kind::kStopped);
    if (stopped != nullptr) leaving += stopped->served - e.served;
  }
  json failures = json::object();
  for (const auto& [code, n] : report.failures) failures[code] = n;
  load_owner.reset();
  channels.reset();
  return json{{"section", "churn"},
              {"mode", xds ? "xds" : "pool"},
              {"retry", retry},
              {"pods", pods},
              {"load_calls_per_second", rate},
              {"rollout_seconds", absl::ToDoubleSeconds(rollout)},
              {"ok", report.ok},
              {"failed", report.failed},
              {"failed_during_rollout", after_rollout.failed},
              {"failed_during_crash", report.failed - after_rollout.failed},
              {"failures", failures},
              {"calls_to_terminating_pods", leaving},
              {"p99_ms", absl::ToDoubleMilliseconds(report.p99)}};
}

// Addresses for endpoints (prefix + a.b), never dialled unless served.
std::string Address(const std::string& prefix, int i) {
  return absl::StrCat(prefix, i / 250, ".", i % 250 + 1);
}

// --- shutdown ----------------------------------------------------------------------

// How long `~Balancer` takes (Shutdown, then destruction) when the API server
// is idle, hangs (accepts and never answers), drops SYNs, or answers slowly;
// in each case after the Balancer's pods served calls (or it tried to
// discover them).
absl::StatusOr<json> Shutdown() {
  const int trials = Quick() ? 2 : 10;
  json variants = json::object();
  auto trial = [&](const std::string& name,
                   const std::function<absl::StatusOr<absl::Duration>()>& run) -> absl::Status {
    std::vector<absl::Duration> times;
    for (int i = 0; i < trials; ++i) {
      absl::StatusOr<absl::Duration> t = run();
      if (!t.ok()) return t.status();
      times.push_back(*t);
    }
    variants[name] = Summarize(times).ToJson();
    return absl::OkStatus();
  };
  auto time_destruction = [](std::unique_ptr<Balancer> balancer) {
    const absl::Time start = absl::Now();
    balancer.reset();
    return absl::Now() - start;
  };
  // Idle: a real cluster, calls made, nothing in flight.
  absl::StatusOr<std::unique_ptr<FakeCluster>> cluster = FakeCluster::Start();
  if (!cluster.ok()) return cluster.status();
  if (absl::Status s = (*cluster)->CreateDeployment({.name = "web", .replicas = 3}); !s.ok()) {
    return s;
  }
  if (absl::Status s = trial(
          "idle after calls",
          [&]() -> absl::StatusOr<absl::Duration> {
            absl::StatusOr<std::unique_ptr<Balancer>> b =
                Balancer::Create((*cluster)->client_config());
            if (!b.ok()) return b.status();
            absl::StatusOr<StubHandle<Echo>> h = (*b)->Connect<Echo>("web.demo:80");
            if (!h.ok()) return h.status();
            if (absl::Status w = (*b)->WaitForReady("web.demo:80", absl::Now() + absl::Seconds(60));
                !w.ok()) {
              return w;
            }
            for (int c = 0; c < 30; ++c) {
              EchoRequest req;
              EchoResponse resp;
              grpc::Status st = Call(*h, &Echo::Stub::Echo, req, &resp, {.idempotent = true});
              if (!st.ok()) return absl::InternalError(st.error_message());
            }
            return time_destruction(*std::move(b));
          });
      !s.ok()) {
    return s;
  }
  // The API server misbehaving while discovery's first request is in flight.
  auto against = [&](const std::string& url) -> absl::StatusOr<absl::Duration> {
    ClusterConfig config;
    config.server = url;
    config.ns = "demo";
    absl::StatusOr<std::unique_ptr<Balancer>> b = Balancer::Create(config);
    if (!b.ok()) return b.status();
    if (!(*b)->Connect("web.demo:80").ok()) return absl::InternalError("connect failed");
    absl::SleepFor(absl::Milliseconds(200));  // the request is under way
    return time_destruction(*std::move(b));
  };
  {
    testing::Blackhole silent(testing::Blackhole::Mode::kSilent);
    if (absl::Status s = trial("API accepts, never answers", [&] { return against(silent.url()); });
        !s.ok()) {
      return s;
    }
  }
  {
    testing::Blackhole drops(testing::Blackhole::Mode::kDropsSyns);
    if (absl::Status s = trial("API drops SYNs", [&] { return against(drops.url()); }); !s.ok()) {
      return s;
    }
  }
  (*cluster)->api().SetLatency(absl::Seconds(10));
  if (absl::Status s =
          trial("API answers after 10 s", [&] { return against((*cluster)->api().url()); });
      !s.ok()) {
    return s;
  }
  (*cluster)->api().SetLatency(absl::ZeroDuration());
  return json{{"section", "shutdown"}, {"trials", trials}, {"variants", variants}};
}

// API requests per Service: many Connect calls, from many threads, in several
// spellings of the same Service, against fakek8s.
absl::StatusOr<json> ApiRequests() {
  absl::StatusOr<std::unique_ptr<FakeCluster>> cluster = FakeCluster::Start();
  if (!cluster.ok()) return cluster.status();
  if (absl::Status s = (*cluster)->CreateDeployment({.name = "web", .replicas = 3}); !s.ok()) {
    return s;
  }
  const auto before = (*cluster)->api().RequestCounts();
  absl::StatusOr<std::unique_ptr<Balancer>> balancer =
      Balancer::Create((*cluster)->client_config());
  if (!balancer.ok()) return balancer.status();
  const char* forms[] = {"web:80", "web.demo:80", "web.demo.svc.cluster.local:80",
                         "kubernetes:///web.demo:80"};
  const int threads = 8, per_thread = 25;
  std::vector<std::thread> workers;
  std::atomic<int> failed{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if (!(*balancer)->Connect(forms[(t + i) % 4]).ok()) ++failed;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  if (absl::Status s = (*balancer)->WaitForReady("web:80", absl::Now() + absl::Seconds(30));
      !s.ok()) {
    return s;
  }
  // The pool is ready after the list; the watch opens right after it. Wait for
  // it (a slow machine may take a while), then let any further request show.
  if (absl::Status s = WaitFor([&] { return (*cluster)->api().OpenWatchStreams() >= 1; },
                               absl::Seconds(60), "the watch stream to open");
      !s.ok()) {
    return s;
  }
  absl::SleepFor(absl::Milliseconds(Quick() ? 100 : 1000));
  const auto after = (*cluster)->api().RequestCounts();
  json counts = json::object();
  int64_t total = 0;
  for (const auto& [key, n] : after) {
    auto it = before.find(key);
    const int64_t delta = n - (it == before.end() ? 0 : it->second);
    if (delta > 0) {
      counts[key] = delta;
      total += delta;
    }
  }
  return json{{"section", "api_requests"},
              {"connect_calls", threads * per_thread},
              {"connect_failed", failed.load()},
              {"requests", counts},
              {"requests_total", total},
              {"open_watch_streams", (*cluster)->api().OpenWatchStreams()}};
}

// --- memory -----------------------------------------------------------------------------

class EchoService final : public Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const EchoRequest* request,
                    EchoResponse* response) override {
    response->set_message(request->message());
    return grpc::Status::OK;
  }
};

// The child: a gRPC server listening on N loopback addresses (same port).
int Serve() {
  const int n = absl::GetFlag(FLAGS_endpoints);
  const std::string prefix = absl::GetFlag(FLAGS_ip_prefix);
  int port = 0;
  EchoService service;
  std::unique_ptr<grpc::Server> server;
  {
    grpc::ServerBuilder first;
    first.RegisterService(&service);
    first.AddListeningPort(Address(prefix, 0) + ":0", grpc::InsecureServerCredentials(), &port);
    server = first.BuildAndStart();
  }
  if (server == nullptr || port == 0) {
    std::cerr << "serve: cannot bind " << Address(prefix, 0) << "\n";
    return 1;
  }
  server->Shutdown();
  server.reset();
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  for (int i = 0; i < n; ++i) {
    builder.AddListeningPort(absl::StrCat(Address(prefix, i), ":", port),
                             grpc::InsecureServerCredentials());
  }
  server = builder.BuildAndStart();
  if (server == nullptr) {
    std::cerr << "serve: cannot bind " << n << " addresses on port " << port << "\n";
    return 1;
  }
  std::cout << "PORT " << port << std::endl;
  server->Wait();
  return 0;
}

absl::StatusOr<json> Memory(const char* self) {
  const std::string mode = absl::GetFlag(FLAGS_mode).empty() ? "pool" : absl::GetFlag(FLAGS_mode);
  if (mode != "pool" && mode != "bare") return absl::InvalidArgumentError("--mode=pool|bare");
  const int n = Quick() ? 50 : absl::GetFlag(FLAGS_endpoints);
  // 127.<x>.0.0/14 of this process: x from the pid, away from LoopbackSubnet's.
  const std::string prefix = absl::StrCat("127.", 200 + getpid() % 50, ".");
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> child = testing::Subprocess::Start(
      {self, "--section=serve", absl::StrCat("--endpoints=", n), "--ip_prefix=" + prefix});
  if (!child.ok()) return child.status();
  std::optional<std::string> line = (*child)->ReadLineContaining("PORT ", absl::Seconds(60));
  int port = 0;
  if (!line || !absl::SimpleAtoi(line->substr(line->find("PORT ") + 5), &port)) {
    return absl::InternalError("the server process did not start: " + (*child)->output());
  }
  // Warm up gRPC's globals so the baseline holds them.
  {
    auto warm = grpc::CreateChannel(absl::StrCat(Address(prefix, 0), ":", port),
                                    grpc::InsecureChannelCredentials());
    warm->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  }
  absl::SleepFor(absl::Milliseconds(200));
  const int64_t rss_before = ResidentBytes();
  int ready = 0;
  std::vector<std::shared_ptr<grpc::Channel>> bare;
  std::unique_ptr<SliceService> mem_service;
  std::unique_ptr<Balancer> balancer;
  if (mode == "bare") {
    for (int i = 0; i < n; ++i) {
      bare.push_back(grpc::CreateChannel(absl::StrCat(Address(prefix, i), ":", port),
                                         grpc::InsecureChannelCredentials()));
      bare.back()->GetState(/*try_to_connect=*/true);
    }
    // Somebody has to poll for gRPC's I/O to progress (the pool's watcher thread
    // does, for its channels): wait on each channel in turn.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (auto& c : bare) ready += c->WaitForConnected(absl::ToChronoTime(deadline)) ? 1 : 0;
  } else {
    std::vector<json> slices;
    for (int s = 0; s * 100 < n; ++s) {
      std::vector<std::pair<std::string, bool>> eps;
      for (int i = s * 100; i < std::min(n, (s + 1) * 100); ++i)
        eps.push_back({Address(prefix, i), true});
      slices.push_back(MakeSlice("demo", "mem", absl::StrCat("mem-", s), port, eps));
    }
    mem_service = std::make_unique<SliceService>("demo", "mem", slices);
    absl::StatusOr<std::unique_ptr<Balancer>> b = Balancer::Create(mem_service->client(), "demo");
    if (!b.ok()) return b.status();
    balancer = *std::move(b);
    if (!balancer->Connect("mem:80").ok()) return absl::InternalError("connect failed");
    auto count = [&] {
      int r = 0;
      for (const ServiceSnapshot& s : balancer->Snapshot()) {
        for (const EndpointSnapshot& e : s.endpoints) r += e.state == ChannelState::kReady ? 1 : 0;
      }
      return r;
    };
    (void)WaitFor([&] { return (ready = count()) == n; }, absl::Seconds(60), "pool channels",
                  absl::Milliseconds(20));
  }
  absl::SleepFor(absl::Milliseconds(500));  // let connection set-up settle
  const int64_t rss_after = ResidentBytes();
  json out = {{"section", "memory"},
              {"mode", mode},
              {"channels", n},
              {"ready", ready},
              {"rss_delta_bytes", rss_after - rss_before},
              {"bytes_per_channel", ready > 0 ? (rss_after - rss_before) / ready : 0}};
  if (balancer) balancer->Shutdown();
  bare.clear();
  return out;
}

// --- Control plane fan-out (kube-grpc-xds) -------------------------------------

// The control plane on its own, in this process (kube_bench --section=xds_serve
// --kubeconfig=FILE): the same AdsServer, registry and Kubernetes client as
// the kube-grpc-xds binary. Prints "xds_serve: port N" and serves until killed.
int XdsServe() {
  KubeconfigOptions kubeconfig;
  kubeconfig.paths = absl::GetFlag(FLAGS_kubeconfig);
  absl::StatusOr<ClusterConfig> config = KubeconfigConfig(kubeconfig);
  if (!config.ok()) {
    std::cerr << "xds_serve: " << config.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<HttpK8sClient>> client = HttpK8sClient::Create(*config);
  if (!client.ok()) {
    std::cerr << "xds_serve: " << client.status() << "\n";
    return 1;
  }
  std::shared_ptr<ServiceRegistry> registry =
      ServiceRegistry::Create(std::shared_ptr<K8sClient>(*std::move(client)), DiscoveryOptions());
  absl::StatusOr<std::unique_ptr<xds::AdsServer>> server =
      xds::AdsServer::Start(registry.get(), "127.0.0.1:0");
  if (!server.ok()) {
    std::cerr << "xds_serve: " << server.status() << "\n";
    return 1;
  }
  std::cout << "xds_serve: port " << (*server)->port() << std::endl;
  while (true) pause();
}

// CPU time (user + system) a process has used so far ("self" or a pid).
absl::Duration CpuTimeOf(const std::string& pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces): state is field 3,
  // utime 14, stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return absl::ZeroDuration();
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  if (fields.size() < 13) return absl::ZeroDuration();
  int64_t utime = 0, stime = 0;
  if (!absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK));
}

int64_t ResidentBytesOf(pid_t pid) {
  std::ifstream statm(absl::StrCat("/proc/", pid, "/statm"));
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

// 1, 100 and 1,000 xDS client streams (AdsFleet: ACKing, on shared
// connections) subscribed to the same 10 Services, served by the control plane
// in a process of its own: the API watches it opens, the time from an API
// change to the last stream's ACK, its memory per stream; and a one-endpoint
// change of a 5,000-endpoint Service pushed to 100 streams.
absl::StatusOr<json> Fanout(const char* self) {
  const std::vector<int> fleets =
      Quick() ? std::vector<int>{1, 10} : std::vector<int>{1, 100, 1000};
  const int trials = Quick() ? 4 : 40;
  constexpr int kServices = 10;
  absl::StatusOr<std::unique_ptr<FakeCluster>> cluster = FakeCluster::Start();
  if (!cluster.ok()) return cluster.status();
  std::vector<std::string> clusters;
  for (int s = 0; s < kServices; ++s) {
    testing::DeploymentSpec spec;
    spec.name = absl::StrCat("svc-", s);
    spec.replicas = 2;
    if (absl::Status st = (*cluster)->CreateDeployment(spec); !st.ok()) return st;
    clusters.push_back(absl::StrCat("demo/svc-", s, ":80"));
  }
  char dir_template[] = "/tmp/kube-bench-fanout-XXXXXX";
  const std::string dir = mkdtemp(dir_template) != nullptr ? dir_template : "/tmp";
  const std::string kubeconfig = dir + "/kubeconfig";
  if (absl::Status st = (*cluster)->k8s().WriteKubeconfig(kubeconfig, "", "demo"); !st.ok()) {
    return st;
  }
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> server = testing::Subprocess::Start(
      {self, "--section=xds_serve", absl::StrCat("--kubeconfig=", kubeconfig)});
  if (!server.ok()) return server.status();
  std::optional<std::string> line =
      (*server)->ReadLineContaining("xds_serve: port", absl::Seconds(60));
  if (!line.has_value()) {
    return absl::InternalError(
        absl::StrCat("the control plane did not start: ", (*server)->output()));
  }
  const std::string address = absl::StrCat("127.0.0.1:", line->substr(line->rfind(' ') + 1));
  const int64_t rss_idle = ResidentBytesOf((*server)->pid());

  auto last_received = [](testing::AdsFleet& fleet, const std::string& cluster) {
    absl::Time last = absl::InfinitePast();
    for (const auto& v : fleet.Views()) last = std::max(last, v.at(cluster).received);
    return last;
  };

  json rows = json::array();
  for (int n : fleets) {
    const int64_t rss_before = ResidentBytesOf((*server)->pid());
    absl::StatusOr<std::unique_ptr<testing::AdsFleet>> fleet =
        testing::AdsFleet::Start(address, n, clusters);
    if (!fleet.ok()) return fleet.status();
    for (const std::string& c : clusters) {
      if (!(*fleet)->WaitUntil(testing::AdsFleet::AllSee(c, 2), absl::Seconds(120))) {
        return absl::DeadlineExceededError(absl::StrCat(n, " streams did not all get ", c));
      }
    }
    absl::SleepFor(absl::Milliseconds(300));  // let the connections settle
    const int64_t rss_with = ResidentBytesOf((*server)->pid());
    std::vector<absl::Duration> to_last_ack;
    // Where the time goes: the CPU the server and this process (the fleet's
    // streams, and fakek8s) use over the trials.
    const std::string server_pid = std::to_string((*server)->pid());
    const absl::Duration server_cpu_before = CpuTimeOf(server_pid);
    const absl::Duration fleet_cpu_before = CpuTimeOf("self");
    for (int t = 0; t < trials; ++t) {
      const int s = t % kServices;
      const std::string pod = absl::StrCat("svc-", s, "-0");
      const bool ready = (t / kServices) % 2 == 1;  // first not ready, then ready again
      if (absl::Status st = (*cluster)->SetPodReady(pod, ready); !st.ok()) return st;
      const std::vector<testing::ClusterEvent> events = (*cluster)->Events();
      const auto* event = FindEvent(
          events, pod,
          ready ? testing::ClusterEvent::Kind::kReady : testing::ClusterEvent::Kind::kNotReady);
      if (event == nullptr) return absl::InternalError("no event for the readiness change");
      if (!(*fleet)->WaitUntil(testing::AdsFleet::AllSee(clusters[s], ready ? 2 : 1),
                               absl::Seconds(120))) {
        return absl::DeadlineExceededError(absl::StrCat(n, " streams did not all see ", pod));
      }
      to_last_ack.push_back(last_received(**fleet, clusters[s]) - event->at);
    }
    const absl::Duration server_cpu = CpuTimeOf(server_pid) - server_cpu_before;
    const absl::Duration fleet_cpu = CpuTimeOf("self") - fleet_cpu_before;
    // In steady state (a discovery lists first, then watches).
    const int watches = (*cluster)->api().OpenWatchStreams();
    // Leave every pod ready for the next fleet.
    for (int s = 0; s < kServices; ++s) {
      (void)(*cluster)->SetPodReady(absl::StrCat("svc-", s, "-0"), true);
    }
    rows.push_back(
        {{"streams", n},
         {"connections", (n + 9) / 10},
         {"api_watches_open", watches},
         {"event_to_last_ack", Summarize(to_last_ack).ToJson()},
         {"server_rss_bytes", rss_with},
         {"server_cpu_ms_per_trial", absl::ToDoubleMilliseconds(server_cpu) / trials},
         {"fleet_and_api_cpu_ms_per_trial", absl::ToDoubleMilliseconds(fleet_cpu) / trials},
         {"server_bytes_per_stream", (rss_with - rss_before) / n},
         {"ended_streams", (*fleet)->ended()}});
    fleet->reset();
    absl::SleepFor(absl::Milliseconds(500));
  }

  // A 5,000-endpoint Service, one endpoint changing, 100 streams.
  const int big_streams = Quick() ? 10 : 100;
  const size_t big = Quick() ? 500 : 5000;
  fakek8s::ObjectStore& store = (*cluster)->k8s().store();
  absl::StatusOr<json> service = store.Create(
      fakek8s::Resource::kServices,
      {{"metadata", {{"name", "big"}, {"namespace", "demo"}}},
       {"spec",
        {{"ports", json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", 8080}}})}}}});
  if (!service.ok()) return service.status();
  std::vector<std::pair<std::string, bool>> endpoints;
  for (size_t i = 0; i < big; ++i) {
    endpoints.push_back({absl::StrCat("127.9.", i / 250, ".", i % 250 + 1), true});
  }
  absl::StatusOr<json> slice = store.Create(fakek8s::Resource::kEndpointSlices,
                                            MakeSlice("demo", "big", "big-1", 8080, endpoints));
  if (!slice.ok()) return slice.status();
  absl::StatusOr<std::unique_ptr<testing::AdsFleet>> fleet =
      testing::AdsFleet::Start(address, big_streams, {"demo/big:80"});
  if (!fleet.ok()) return fleet.status();
  if (!(*fleet)->WaitUntil(testing::AdsFleet::AllSee("demo/big:80", big), absl::Seconds(120))) {
    return absl::DeadlineExceededError("the 5,000-endpoint Service did not reach every stream");
  }
  std::vector<absl::Duration> big_change;
  for (int t = 0; t < trials; ++t) {
    const bool ready = t % 2 == 1;
    const absl::Time written = absl::Now();
    absl::StatusOr<json> changed =
        store.Mutate(fakek8s::Resource::kEndpointSlices, "demo", "big-1", [ready](json& s) {
          s["endpoints"][0]["conditions"]["ready"] = ready;
          return absl::OkStatus();
        });
    if (!changed.ok()) return changed.status();
    if (!(*fleet)->WaitUntil(testing::AdsFleet::AllSee("demo/big:80", ready ? big : big - 1),
                             absl::Seconds(120))) {
      return absl::DeadlineExceededError(
          "a change of the large Service did not reach every stream");
    }
    big_change.push_back(last_received(**fleet, "demo/big:80") - written);
  }
  fleet->reset();
  return json{{"section", "fanout"},
              {"services", kServices},
              {"trials", trials},
              {"server_rss_idle_bytes", rss_idle},
              {"fleets", rows},
              {"large_service",
               {{"endpoints", big},
                {"streams", big_streams},
                {"store_write_to_last_ack", Summarize(big_change).ToJson()}}}};
}

}  // namespace
}  // namespace kubegrpc::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace kubegrpc::bench;  // NOLINT
  const std::string section = absl::GetFlag(FLAGS_section);
  if (section == "serve") return Serve();
  if (section == "xds_serve") return XdsServe();
  absl::StatusOr<nlohmann::json> result;
  if (section == "throughput") {
    result = Throughput();
  } else if (section == "least_request") {
    result = LeastRequest();
  } else if (section == "convergence") {
    result = Convergence();
  } else if (section == "churn") {
    result = Churn();
  } else if (section == "scale") {
    result = ScaleSection(Quick());
  } else if (section == "shutdown") {
    result = Shutdown();
  } else if (section == "api_requests") {
    result = ApiRequests();
  } else if (section == "memory") {
    result = Memory("/proc/self/exe");
  } else if (section == "fanout") {
    result = Fanout("/proc/self/exe");
  } else {
    std::cerr << "unknown --section=" << section
              << " (throughput, least_request, convergence, churn, scale, shutdown, api_requests, "
                 "memory, fanout)\n";
    return 2;
  }
  if (!result.ok()) {
    std::cerr << "kube_bench " << section << ": " << result.status() << "\n";
    return 1;
  }
  const std::string text = result->dump(2);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::cout << text << "\n";
  } else {
    std::ofstream(out) << text << "\n";
  }
  return 0;
}
