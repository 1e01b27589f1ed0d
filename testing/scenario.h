// File: testing/scenario.h
// -----------------------------------------------------------------------------
// Scenarios: a Deployment, a load, and a script of timed steps that scale,
// crash, restart, roll pods or disturb the API server - run against a
// FakeCluster while a Balancer carries the load, and reported as a timeline.
//
// From C++:
//   kubegrpc::testing::Scenario s;
//   s.deployment = {.name = "web", .replicas = 3};
//   s.steps = {{absl::Seconds(1), "scale web 6"}, {absl::Seconds(3), "crash web-1 500ms"}};
//   absl::StatusOr<ScenarioReport> report = RunScenario(s);
//
// Or from a file (ParseScenario):
//   name: scale-and-crash
//   duration: 6s
//   deployment: {name: web, replicas: 3, readiness_delay: 100ms,
//                zones: [zone-a, zone-b, zone-c], traffic_distribution: PreferSameZone}
//   load: {threads: 2, rate: 300, retry: true}
//   balancer: {resync: 5m, watch: true, health: none, zone: zone-a}
//   mode: pool            # or xds: the load goes through an xDS channel
//   steps:
//     - {at: 1s, do: scale web 6}
//     - {at: 3s, do: crash web-1 500ms}
//
// Step actions: `scale <deployment> <n>`, `delete <pod>`, `crash <pod> <restart
// after>`, `recreate <pod>`, `ready <pod> true|false`, `rollout <deployment>`,
// `outage <duration>` (the API server refuses connections), `compact` (410 on
// the next resumed watch), `drop-watches`, `hang <pod> <duration>` (the pod's
// process stops answering; the API still says ready: only health checks see it).
//
// Two modes, one set of steps and assertions:
// - pool: a Balancer carries the load (StubHandle, the retry helper with
//   load.retry); convergence is "the pool picks exactly the ready pods".
// - xds: an xds::XdsChannels channel carries it, balanced by gRPC's own xDS
//   client from kube-grpc's ADS server; with load.retry the Service is
//   annotated kube-grpc.io/retry (UNAVAILABLE and CANCELLED, 2 retries, as the
//   helper does), so gRPC retries. gRPC's picker cannot be seen, so
//   convergence is "a whole timeline interval after the step had calls on
//   exactly the ready pods". One xDS run at a time per process (XdsChannels).
//
// Errors: InvalidArgument for a malformed scenario; a step that fails to apply
// ends the run with its error.

#ifndef TESTING_SCENARIO_H_
#define TESTING_SCENARIO_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kubegrpc/balancer.h"
#include "testing/fake_cluster.h"
#include "testing/load_generator.h"
#include "testing/step_action.h"

namespace kubegrpc::testing {

enum class ScenarioMode { kPool, kXds };
// "pool" / "xds"; ParseScenarioMode answers InvalidArgument for anything else.
const char* ScenarioModeName(ScenarioMode mode);
absl::StatusOr<ScenarioMode> ParseScenarioMode(const std::string& name);

struct ScenarioStep {
  absl::Duration at;   // from the start of the load
  std::string action;  // see above
};

// What a live view shows while a scenario runs (RunScenario's progress callback).
struct ScenarioProgress {
  absl::Duration elapsed;
  absl::Duration duration;
  LoadReport load;  // so far
  ScenarioMode mode = ScenarioMode::kPool;
  std::vector<EndpointSnapshot> pool;  // the Balancer's endpoints now (pool mode only)
  DiscoveryStatus discovery;
  std::vector<std::string> api_pods;  // the Deployment's pods in the API, oldest first
  std::vector<ClusterEvent> events;   // so far
  std::string step;                   // the step running or last run ("" before the first)
};

struct Scenario {
  std::string name = "scenario";
  ScenarioMode mode = ScenarioMode::kPool;
  DeploymentSpec deployment;
  LoadOptions load;
  BalancerOptions balancer;
  std::vector<ScenarioStep> steps;
  absl::Duration duration = absl::Seconds(5);  // of the load, at least past the last step
  // RunScenario only: called every `progress_interval` on a thread of its own
  // while the load runs (not under any lock; it may print).
  std::function<void(const ScenarioProgress&)> progress;
  absl::Duration progress_interval = absl::Milliseconds(500);
  // RunScenario only: when set and it turns true (a Ctrl-C), the run stops at
  // once and reports what happened so far (ScenarioReport::stopped_early).
  const std::atomic<bool>* stop = nullptr;
};

struct StepResult {
  ScenarioStep step;
  int interval = 0;     // timeline interval when the step began
  absl::Duration took;  // applying it
  // From the end of the step until the pool picked exactly the ready pods (xDS
  // mode: until a timeline interval had calls on exactly them), or
  // InfiniteDuration if that did not happen within 30 s or before the run ended.
  absl::Duration converged_after = absl::InfiniteDuration();
  absl::Status status;
};

struct ScenarioReport {
  std::string name;
  ScenarioMode mode = ScenarioMode::kPool;
  LoadReport load;
  std::vector<StepResult> steps;
  absl::Time start;                  // when the load began
  std::vector<ClusterEvent> events;  // what the cluster did (RunScenario only)
  bool stopped_early = false;        // Scenario::stop cut the run short
  DiscoveryStatus discovery;         // at the end (RunScenario only)
  // A plain-text summary: totals per pod, failures, and one line per step.
  std::string ToText() const;
};

// Pod names in natural order: "web-2" before "web-10".
std::vector<std::string> NaturallySorted(std::vector<std::string> names);

absl::StatusOr<Scenario> ParseScenario(const std::string& yaml);
// Reads and parses a scenario file; errors name the file (NotFound if it cannot
// be read, InvalidArgument if it is malformed).
absl::StatusOr<Scenario> LoadScenario(const std::string& path);
absl::StatusOr<ScenarioReport> RunScenario(const Scenario& scenario);

}  // namespace kubegrpc::testing

#endif  // TESTING_SCENARIO_H_
