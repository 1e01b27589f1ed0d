#include "kubegrpc/clock.h"

#include "absl/time/clock.h"

namespace kubegrpc {
namespace {

class WallClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool SleepUntil(absl::Time deadline, const Cancellation* cancel) override {
    if (cancel == nullptr) {
      absl::SleepFor(deadline - absl::Now());
      return true;
    }
    return !cancel->WaitUntil(deadline);
  }
};

}  // namespace

Clock* RealClock() {
  static WallClock* const kClock = new WallClock();
  return kClock;
}

}  // namespace kubegrpc
