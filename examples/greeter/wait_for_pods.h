// Waiting at start-up for more than the first ready pod: Balancer::WaitForReady
// returns once one pod of the Service is READY; the others join the rotation as
// their channels connect (and, with health checks, as their first check
// passes). A client that wants its first calls spread over the whole Service
// waits for them too.
#ifndef KUBEGRPC_EXAMPLES_GREETER_WAIT_FOR_PODS_H_
#define KUBEGRPC_EXAMPLES_GREETER_WAIT_FOR_PODS_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kubegrpc/balancer.h"

namespace kubegrpc::examples {

// Waits until `pods` endpoints of the Balancer's Services are in rotation:
// OK, or DeadlineExceeded saying how many were.
inline absl::Status WaitForPodsInRotation(const Balancer& balancer, int pods, absl::Time deadline) {
  for (;;) {
    int in_rotation = 0;
    for (const ServiceSnapshot& s : balancer.Snapshot()) {
      for (const EndpointSnapshot& e : s.endpoints) in_rotation += e.picked ? 1 : 0;
    }
    if (in_rotation >= pods) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(in_rotation, " pods in rotation, not ", pods));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace kubegrpc::examples

#endif  // KUBEGRPC_EXAMPLES_GREETER_WAIT_FOR_PODS_H_
