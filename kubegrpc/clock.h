// File: kubegrpc/clock.h
// -----------------------------------------------------------------------------
// Time as kube-grpc's control logic sees it, injected so that tests run it on
// virtual time (see //testing:fake_clock). RealClock() is the wall clock.
//
// Thread-safety: implementations are thread-safe.

#ifndef KUBEGRPC_CLOCK_H_
#define KUBEGRPC_CLOCK_H_

#include "absl/time/time.h"
#include "kubegrpc/k8s_client.h"

namespace kubegrpc {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Sleeps until `deadline`, or until `cancel` (may be null) is cancelled;
  // false if cancelled.
  virtual bool SleepUntil(absl::Time deadline, const Cancellation* cancel) = 0;
};

// The process-wide wall clock.
Clock* RealClock();

}  // namespace kubegrpc

#endif  // KUBEGRPC_CLOCK_H_
