// File: testing/step_action.h
// -----------------------------------------------------------------------------
// One step of a scenario, parsed: what the real runner (FakeCluster) and the
// simulation (Simulate) act on.
//
// Actions: `scale <deployment> <n>`, `delete <pod>`, `crash <pod> <restart
// after>`, `recreate <pod>`, `ready <pod> true|false`, `rollout <deployment>`,
// `outage <duration>` (the API server refuses connections), `compact` (410 on
// the next resumed watch), `drop-watches`, `hang <pod> <duration>` (the pod's
// process stops answering; the API still says ready: only health checks see it).

#ifndef TESTING_STEP_ACTION_H_
#define TESTING_STEP_ACTION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kubegrpc::testing {

struct StepAction {
  enum class Verb {
    kScale,
    kDelete,
    kCrash,
    kRecreate,
    kReady,
    kRollout,
    kOutage,
    kCompact,
    kDropWatches,
    kHang
  };
  Verb verb;
  std::string target;                              // the deployment (scale, rollout) or pod
  int replicas = 0;                                // scale
  absl::Duration duration = absl::ZeroDuration();  // crash: restart delay; outage, hang: length
  bool ready = false;                              // ready
  // Whether the verb acts on pods (else on the API server).
  bool on_pods() const {
    return verb != Verb::kOutage && verb != Verb::kCompact && verb != Verb::kDropWatches;
  }
};

// InvalidArgument naming the action and what is wrong.
absl::StatusOr<StepAction> ParseStepAction(const std::string& action);

}  // namespace kubegrpc::testing

#endif  // TESTING_STEP_ACTION_H_
