// File: testing/simulation.h
// -----------------------------------------------------------------------------
// Deterministic mode: a Scenario run against kube-grpc's discovery and pool
// logic alone, on virtual time, with no sockets and no threads. fakek8s's object
// store and endpoint controller stand in for the API server (through an
// in-process K8sClient), fake subchannels for the pods' channels, and picks for
// calls. The same scenario and seed give the same trace on every run, so tests
// can assert on it exactly.
//
//   absl::StatusOr<SimulationResult> r = Simulate(scenario, {.seed = 7});
//   // r->trace: "t=1.050s picked web-0,web-1,web-2,web-3" ...
//
// Pods in the simulation: a crashed pod's channel goes TRANSIENT_FAILURE and the
// pod turns not ready; it restarts after the given delay. A deleted pod turns
// terminating at once and is removed after `termination_delay`. An outage makes
// every API call fail with Unavailable.
//
// Thread-compatible.

#ifndef TESTING_SIMULATION_H_
#define TESTING_SIMULATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/load_generator.h"
#include "testing/scenario.h"

namespace kubegrpc::testing {

struct SimulationOptions {
  uint64_t seed = 1;
  // Virtual time per loop step (one watch poll, one batch of picks).
  absl::Duration tick = absl::Milliseconds(50);
  int picks_per_tick = 30;
  absl::Duration termination_delay = absl::Milliseconds(200);
  // How long a hung pod stays ready in the API: the kubelet's readiness probe
  // notices after failureThreshold x periodSeconds (3 x 10 s by default).
  absl::Duration readiness_probe_detects_after = absl::Seconds(30);
};

struct SimulationResult {
  // One line per scenario step and per change of the picked pods, with the
  // virtual time since the start.
  std::vector<std::string> trace;
  // Picks per pod, and per tick (the timeline's interval is one tick). A pick
  // counts as failed when there was no endpoint, its channel was not READY, or
  // its pod could not answer (crashed, gone or hung): the simulation has no
  // retries, so these are the calls a retry would have to save.
  LoadReport load;
  // Picks of pods the API no longer reported ready (not ready, terminating or
  // deleted), whether or not they could still answer.
  int64_t calls_to_gone_pods = 0;
  // For each pod added after the start: from the API reporting it ready to its
  // first pick (resolution: one tick). Pods never picked are not included;
  // `new_pods_never_used` counts them.
  std::vector<absl::Duration> new_pod_first_use;
  int new_pods_never_used = 0;
  // Requests to the API server: Service gets, lists, and watch streams (a
  // stream that continues from the last one within its timeout counts once).
  int64_t api_gets = 0;
  int64_t api_lists = 0;
  int64_t api_watches = 0;
  // Health-check calls the pool made (what health checks cost the pods).
  int64_t health_checks = 0;
};

absl::StatusOr<SimulationResult> Simulate(const Scenario& scenario,
                                          const SimulationOptions& options = {});

}  // namespace kubegrpc::testing

#endif  // TESTING_SIMULATION_H_
