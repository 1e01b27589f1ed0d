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
#include "testing/fake_clock.h"
#include "testing/fake_k8s_client.h"
#include "testing/fake_subchannel.h"
#include "testing/pod_lifecycle.h"

namespace kubegrpc::testing {
namespace {

// Virtual time as PodLifecycle sees it: later steps are alarms.
class ClockTimeline : public Timeline {
 public:
  explicit ClockTimeline(FakeClock* clock) : clock_(clock) {}
  absl::Time Now() override { return clock_->Now(); }
  void After(absl::Duration delay, std::function<void()> step) override {
    clock_->After(delay, std::move(step));
  }

 private:
  FakeClock* clock_;
};

// The pods' processes, simulated: a process is a flag and a fake subchannel
// whose connectivity follows it (READY while it runs, TRANSIENT_FAILURE once
// it died or stopped); a hang is PodLifecycle's `hung_until`.
class SimRuntime : public PodRuntime {
 public:
  explicit SimRuntime(FakeSubchannelFactory* factory) : factory_(factory) {}
  std::string NextIp() override {
    const int i = next_++;
    return absl::StrCat("10.0.", i / 250, ".", i % 250 + 1);
  }
  absl::StatusOr<int> Start(const std::string& pod, const std::string& ip, int) override {
    addresses_[pod] = absl::StrCat(ip, ":", kPort);
    return kPort;
  }
  void Stop(const std::string& pod) override {
    factory_->SetState(addresses_[pod], ChannelState::kTransientFailure);
  }
  void Crash(const std::string& pod) override {
    factory_->SetState(addresses_[pod], ChannelState::kTransientFailure);
  }
  absl::Status Restart(const std::string& pod) override {
    factory_->SetState(addresses_[pod], ChannelState::kReady);
    return absl::OkStatus();
  }
  void Hang(const std::string&, absl::Duration) override {}
  void SetServing(const std::string&, bool) override {}

 private:
  static constexpr int kPort = 8080;
  FakeSubchannelFactory* factory_;
  int next_ = 0;
  std::map<std::string, std::string> addresses_;
};

class Sim {
 public:
  Sim(const Scenario& scenario, const SimulationOptions& options)
      : scenario_(scenario),
        options_(options),
        store_([&] {
          fakek8s::ObjectStore::Options o;
          o.seed = options.seed;
          o.now = [this] { return clock_.Now(); };
          return o;
        }()),
        client_({.store = &store_, .clock = &clock_, .poll = options.tick}),
        factory_(FakeSubchannelFactory::Options{.initial = ChannelState::kReady}),
        runtime_(&factory_),
        timeline_(&clock_),
        lifecycle_(&store_, &runtime_, &timeline_,
                   {.readiness_probe_detects_after = options.readiness_probe_detects_after,
                    .initial_pods_wait_for_readiness = false,
                    .rollout_settle = options.tick}) {
    controller_.Attach(store_);
    lifecycle_.SetObserver([this](const ClusterEvent& e) { Observe(e); });
  }

  absl::StatusOr<SimulationResult> Run() {
    const DeploymentSpec& d = scenario_.deployment;
    if (absl::Status s = lifecycle_.CreateDeployment(d); !s.ok()) return s;

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
        ++result_.health_checks;
        const std::string pod = lifecycle_.PodAt(e.host_port());
        if (pod.empty() || !Answers(pod)) return absl::DeadlineExceededError("no answer");
        return absl::OkStatus();
      };
    }
    ChannelPool pool(absl::StrCat(d.ns, "/", d.name), &factory_, pool_options);
    ServiceDiscovery discovery_loop(
        &client_, {d.name, d.ns, d.service_port, ""}, discovery,
        [&pool](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
          pool.Apply(set, &delta);
        },
        [&pool](const DiscoveryStatus& status) { pool.SetDiscoveryStatus(status); });

    start_ = clock_.Now();
    started_ = true;
    for (const ScenarioStep& step : scenario_.steps) {
      clock_.Schedule(start_ + step.at, [this, step] {
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
        std::shared_ptr<PoolEndpoint> picked;
        const grpc::StatusCode code = pool.WithPick([&](PoolEndpoint* e, const absl::Status&) {
          if (e != nullptr) picked = e->shared_from_this();
          return Pick(e, interval);
        });
        // The call's outcome, as a pod's channel would count it (outlier
        // detection learns from it), after the pick's read section.
        if (picked != nullptr) {
          picked->calls().Started();
          picked->calls().Finished(code, absl::ZeroDuration());
        }
      }
      if (clock_.Now() + options_.tick < end) clock_.After(options_.tick, tick);
    };
    clock_.Schedule(start_ + options_.tick, tick);
    while (clock_.Now() < end && status_.ok()) {
      clock_.RunDue();
      discovery_loop.RunOnce();  // a list returns at once; the rest advance the clock
    }
    if (!status_.ok()) return status_;
    result_.new_pods_never_used = static_cast<int>(awaiting_first_use_.size());
    result_.api_gets = client_.gets();
    result_.api_lists = client_.lists();
    result_.api_watches = client_.watches();
    result_.load.interval = options_.tick;
    const size_t n = std::max(result_.load.timeline.size(), result_.load.failed_timeline.size());
    result_.load.timeline.resize(n);
    result_.load.failed_timeline.resize(n);
    return result_;
  }

 private:
  // New pods: from the API reporting them ready to their first pick.
  void Observe(const ClusterEvent& e) {
    if (!started_) return;
    if (e.kind == ClusterEvent::Kind::kCreated) new_pods_.insert(e.pod);
    if (e.kind == ClusterEvent::Kind::kReady && new_pods_.erase(e.pod) > 0) {
      awaiting_first_use_[e.pod] = clock_.Now();
    }
  }
  // One call on the picked endpoint; returns how it ended.
  grpc::StatusCode Pick(PoolEndpoint* e, int interval) {
    if (e == nullptr || !Connected(e)) {
      Failed(interval, "UNAVAILABLE");
      return grpc::StatusCode::UNAVAILABLE;
    }
    const std::string pod = lifecycle_.PodAt(e->host_port());
    const PodLifecycle::PodStatus& state = *lifecycle_.Status(pod);
    if (!state.ready || state.terminating || state.deleted) ++result_.calls_to_gone_pods;
    if (auto it = awaiting_first_use_.find(pod); it != awaiting_first_use_.end()) {
      result_.new_pod_first_use.push_back(clock_.Now() - it->second);
      awaiting_first_use_.erase(it);
    }
    if (!Answers(pod)) {
      const bool hung = state.running && !state.deleted;
      Failed(interval, hung ? "DEADLINE_EXCEEDED" : "UNAVAILABLE");
      return hung ? grpc::StatusCode::DEADLINE_EXCEEDED : grpc::StatusCode::UNAVAILABLE;
    }
    ++result_.load.ok;
    ++result_.load.by_pod[pod];
    if (static_cast<int>(result_.load.timeline.size()) <= interval) {
      result_.load.timeline.resize(interval + 1);
    }
    ++result_.load.timeline[interval][pod];
    return grpc::StatusCode::OK;
  }
  // Whether the picked endpoint's channel is READY (the picker may hold
  // connecting or failing ones when nothing is READY).
  bool Connected(PoolEndpoint* e) {
    const std::string pod = lifecycle_.PodAt(e->host_port());
    const PodLifecycle::PodStatus* s = lifecycle_.Status(pod);
    return s != nullptr && s->running && !s->deleted;
  }
  bool Answers(const std::string& pod) {
    const PodLifecycle::PodStatus* s = lifecycle_.Status(pod);
    return s != nullptr && s->running && !s->deleted && clock_.Now() >= s->hung_until;
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
    result_.trace.push_back(
        absl::StrFormat("t=%.3fs %s", absl::ToDoubleSeconds(clock_.Now() - start_), what));
  }

  absl::Status Apply(const std::string& text) {
    absl::StatusOr<StepAction> action = ParseStepAction(text);
    if (!action.ok()) return action.status();
    if (action->on_pods()) return lifecycle_.Apply(*action, options_.termination_delay);
    using Verb = StepAction::Verb;
    switch (action->verb) {
      case Verb::kOutage:
        client_.SetOutage(true);
        clock_.After(action->duration, [this] { client_.SetOutage(false); });
        return absl::OkStatus();
      case Verb::kCompact:
        store_.Compact();
        return absl::OkStatus();
      case Verb::kDropWatches:
        return absl::OkStatus();  // every poll is a new watch here
      default:
        return absl::InternalError("simulation: unreachable");
    }
  }

  const Scenario& scenario_;
  const SimulationOptions options_;
  FakeClock clock_;
  fakek8s::ObjectStore store_;
  fakek8s::EndpointController controller_;
  FakeK8sClient client_;
  FakeSubchannelFactory factory_;
  SimRuntime runtime_;
  ClockTimeline timeline_;
  PodLifecycle lifecycle_;
  bool started_ = false;
  std::set<std::string> new_pods_;                        // added after the start, not yet ready
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
