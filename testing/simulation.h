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
};

struct SimulationResult {
  // One line per scenario step and per change of the picked pods, with the
  // virtual time since the start.
  std::vector<std::string> trace;
  // Picks per pod, and per tick (the timeline's interval is one tick).
  LoadReport load;
};

absl::StatusOr<SimulationResult> Simulate(const Scenario& scenario,
                                          const SimulationOptions& options = {});

}  // namespace kubegrpc::testing

#endif  // TESTING_SIMULATION_H_
