// File: testing/fake_clock.h
// -----------------------------------------------------------------------------
// FakeClock: virtual time for kube-grpc's control logic. Now() moves only when a
// sleeper sleeps (SleepUntil jumps to the deadline at once) or a test Advance()s
// it, so a loop that sleeps runs through hours of virtual time in microseconds,
// the same way every run. Use it from one thread (don't mix it with real threads
// in one test). Every sleep is recorded for assertions on backoff.

#ifndef TESTING_FAKE_CLOCK_H_
#define TESTING_FAKE_CLOCK_H_

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/clock.h"

namespace kubegrpc::testing {

class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600)) : now_(start) {}

  absl::Time Now() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  bool SleepUntil(absl::Time deadline, const Cancellation* cancel) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    if (cancel != nullptr && cancel->cancelled()) return false;
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(deadline - now_);
    if (deadline > now_) now_ = deadline;
    return true;
  }
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // The durations of all sleeps so far, in order.
  std::vector<absl::Duration> sleeps() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_CLOCK_H_
