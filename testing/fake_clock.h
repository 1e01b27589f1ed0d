// File: testing/fake_clock.h
// -----------------------------------------------------------------------------
// FakeClock: virtual time for kube-grpc's control logic, with alarms. Now()
// moves only when a sleeper sleeps (SleepUntil jumps to the deadline at once)
// or a test Advance()s it, so a loop that sleeps runs through hours of virtual
// time in microseconds, the same way every run. Alarms (Schedule / After) run
// at their time when a sleep or an advance passes it, in time order (ties in
// the order they were scheduled), so that a scenario's steps happen when it
// says even while the code under test sleeps through a backoff.
//
//   FakeClock clock;
//   clock.After(absl::Seconds(1), [&] { store.Mutate(...); });
//   discovery.RunOnce();   // a watch that sleeps past 1 s sees the change
//
// Every sleep is recorded for assertions on backoff.
//
// Thread-safety: thread-safe, but use it from one thread at a time (don't mix
// it with real threads in one test). Alarms run on the sleeping or advancing
// thread, without the clock's lock held; they may schedule more alarms.

#ifndef TESTING_FAKE_CLOCK_H_
#define TESTING_FAKE_CLOCK_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "absl/base/thread_annotations.h"
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
  // Jumps to `deadline`, running the alarms due on the way at their times.
  // Recorded in sleeps(). False (and no sleep) if `cancel` is cancelled.
  bool SleepUntil(absl::Time deadline, const Cancellation* cancel) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    if (cancel != nullptr && cancel->cancelled()) return false;
    {
      absl::MutexLock lock(&mu_);
      sleeps_.push_back(deadline - now_);
    }
    RunUntil(deadline);
    return true;
  }
  // As SleepUntil(Now() + d), not recorded as a sleep.
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) { RunUntil(Now() + d); }

  // Runs `action` at virtual time `when` (at once, on the next RunDue(), sleep
  // or advance, if `when` has passed).
  void Schedule(absl::Time when, std::function<void()> action) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    alarms_.push({when, next_seq_++, std::move(action)});
  }
  void After(absl::Duration d, std::function<void()> action) ABSL_LOCKS_EXCLUDED(mu_) {
    Schedule(Now() + d, std::move(action));
  }
  // Runs the alarms that are due now.
  void RunDue() ABSL_LOCKS_EXCLUDED(mu_) { RunUntil(Now()); }
  // When the earliest alarm is due (InfiniteFuture if none).
  absl::Time NextAlarm() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return alarms_.empty() ? absl::InfiniteFuture() : alarms_.top().when;
  }

  // The durations of all sleeps so far, in order.
  std::vector<absl::Duration> sleeps() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

 private:
  struct Alarm {
    absl::Time when;
    int64_t seq;
    std::function<void()> action;
    bool operator>(const Alarm& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };

  void RunUntil(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_) {
    while (true) {
      std::function<void()> action;
      {
        absl::MutexLock lock(&mu_);
        if (alarms_.empty() || alarms_.top().when > deadline) {
          if (deadline > now_) now_ = deadline;
          return;
        }
        if (alarms_.top().when > now_) now_ = alarms_.top().when;
        action = alarms_.top().action;
        alarms_.pop();
      }
      action();
    }
  }

  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Alarm, std::vector<Alarm>, std::greater<Alarm>> alarms_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_CLOCK_H_
