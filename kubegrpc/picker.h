// File: kubegrpc/picker.h
// -----------------------------------------------------------------------------
// The data plane of a Service's pool: PoolEndpoint, the view of one pod's
// channel that picks hand out, and Picker, an immutable snapshot of the
// endpoints to pick from, rebuilt by the pool whenever that set changes and
// swapped in atomically. Picking is one relaxed fetch_add on an index (gRPC's
// round_robin picker; least-request draws its two choices from the same
// index); it takes no lock.
//
// Which endpoints a picker holds (ChoosePickTier, gRPC's round_robin rules):
// of the eligible endpoints (usable per discovery, not draining, healthy), the
// READY ones; if none is READY, those not in TRANSIENT_FAILURE (calls can wait
// for a connection); if all are failing, all of them (calls fail fast and the
// call helper moves on). An empty picker carries its reason: Unavailable naming
// the Service and why, decided when the picker was built.
//
// Thread-safety: Picker is immutable apart from its index and is safe to use
// from any thread. PoolEndpoint is thread-safe; its call counters are atomics.

#ifndef KUBEGRPC_PICKER_H_
#define KUBEGRPC_PICKER_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/channel_state.h"
#include "kubegrpc/pool_options.h"

namespace kubegrpc {

// A set of gRPC status codes, one bit per grpc::StatusCode.
using StatusCodeMask = uint32_t;
StatusCodeMask MaskOf(const std::vector<grpc::StatusCode>& codes);
inline bool InMask(StatusCodeMask mask, grpc::StatusCode code) {
  const int c = static_cast<int>(code);
  return c >= 0 && c < 32 && (mask >> c & 1u) != 0;
}

// Per-endpoint call accounting: the calls in flight on an endpoint (what a
// draining endpoint waits for before its channel is released, and what
// least-request picking compares), how calls ended, and the failures that
// count against the endpoint for outlier detection (`Rules::failure_codes`).
// Recorded by the endpoint's channel itself (an interceptor on every call,
// internal/call_interceptor.h) or, for channels without one, by whoever makes
// the call (ScopedCall); read by the pool and snapshots.
//
// Thread-safety: lock-free; `on_streak` runs on the thread that finished the
// call that completed the streak, with no lock held.
class CallCounters {
 public:
  struct Rules {
    // The codes that count as the endpoint failing (not the request).
    StatusCodeMask failure_codes = 0;
    // After this many of those in a row, `on_streak` is called with these
    // counters, and again after each as many more (0: never).
    int consecutive_failures = 0;
    std::function<void(const CallCounters&)> on_streak;
  };
  CallCounters() = default;
  explicit CallCounters(Rules rules) : rules_(std::move(rules)) {}
  CallCounters(const CallCounters&) = delete;
  CallCounters& operator=(const CallCounters&) = delete;

  void Started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // A call's end: its status code and how long it took.
  void Finished(grpc::StatusCode code, absl::Duration latency);
  // As above with no latency: `ok` is OK, else UNKNOWN.
  void Finished(bool ok) {
    Finished(ok ? grpc::StatusCode::OK : grpc::StatusCode::UNKNOWN, absl::ZeroDuration());
  }

  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int64_t picks() const { return picks_.load(std::memory_order_relaxed); }
  int64_t finished() const { return finished_.load(std::memory_order_relaxed); }
  // Calls that ended with any code but OK.
  int64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // The current run of calls that ended with one of the failure codes.
  int64_t consecutive_failures() const { return streak_.load(std::memory_order_relaxed); }
  // The finished calls that ended with `code`.
  int64_t finished_with(grpc::StatusCode code) const {
    const int c = static_cast<int>(code);
    return c >= 0 && c < kCodes ? by_code_[c].load(std::memory_order_relaxed) : 0;
  }
  // The code of the last call that failed (OK if none has) and when (real time).
  grpc::StatusCode last_failure_code() const {
    return static_cast<grpc::StatusCode>(last_failure_code_.load(std::memory_order_relaxed));
  }
  absl::Time last_failure_at() const {
    const int64_t ns = last_failure_ns_.load(std::memory_order_relaxed);
    return ns == 0 ? absl::InfinitePast() : absl::FromUnixNanos(ns);
  }
  static constexpr int kCodes = 17;  // grpc::StatusCode OK (0) .. UNAUTHENTICATED (16)
  // The total latency of the finished calls (divide by finished()).
  absl::Duration total_latency() const {
    return absl::Nanoseconds(latency_ns_.load(std::memory_order_relaxed));
  }
  // The calls that succeeded, and those that failed per the rules, since the
  // last TakeInterval() (outlier detection's interval), resetting both.
  struct Interval {
    int64_t successes = 0;
    int64_t failures = 0;
  };
  Interval TakeInterval();
  // Starts a new run of failures (the endpoint returns from an ejection).
  void ResetStreak() { streak_.store(0, std::memory_order_relaxed); }

 private:
  friend class Picker;
  const Rules rules_{};
  std::atomic<int64_t> picks_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> finished_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> latency_ns_{0};
  std::atomic<int64_t> streak_{0};
  std::atomic<int64_t> interval_successes_{0};
  std::atomic<int64_t> interval_failures_{0};
  std::atomic<int64_t> by_code_[kCodes]{};
  std::atomic<int> last_failure_code_{0};
  std::atomic<int64_t> last_failure_ns_{0};
};

// One pod's channel as picks hand it out. Lives as long as anyone holds it
// (pickers, the pool, calls in flight); its channel keeps working for whoever
// holds that, after the pool has let the endpoint go.
class PoolEndpoint : public std::enable_shared_from_this<PoolEndpoint> {
 public:
  // `calls` is the accounting the channel records into (null: a new one with
  // no failure rules); `counted_by_channel` says the channel counts every call
  // itself, so ScopedCall must not.
  PoolEndpoint(std::string host_port, std::string pod_name, std::shared_ptr<grpc::Channel> channel,
               std::shared_ptr<CallCounters> calls = nullptr, bool counted_by_channel = false);
  ~PoolEndpoint();
  PoolEndpoint(const PoolEndpoint&) = delete;
  PoolEndpoint& operator=(const PoolEndpoint&) = delete;

  // "10.0.0.1:8080": what the channel dials.
  const std::string& host_port() const { return host_port_; }
  // The pod the API named when the endpoint first appeared.
  const std::string& pod_name() const { return pod_name_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  CallCounters& calls() { return *calls_; }
  const CallCounters& calls() const { return *calls_; }
  bool counted_by_channel() const { return counted_by_channel_; }

  // A per-endpoint object of type T (a stub, a user's client), made once by
  // `make` and reused; lock-free after the first use. Null if more than
  // kCacheSlots types are cached (the caller then makes its own).
  template <typename T>
  T* Cached(const std::function<std::unique_ptr<T>()>& make);

 private:
  static constexpr int kCacheSlots = 8;
  static int NextCacheSlot();
  template <typename T>
  static int CacheSlot() {
    static const int slot = NextCacheSlot();
    return slot;
  }

  const std::string host_port_;
  const std::string pod_name_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::shared_ptr<CallCounters> calls_;
  const bool counted_by_channel_;
  std::atomic<void*> cache_[kCacheSlots] = {};
  std::atomic<void (*)(void*)> cache_deleters_[kCacheSlots] = {};
};

// Counts a call on `endpoint` for as long as it lives, unless the endpoint's
// channel counts its calls itself (then it does nothing).
class ScopedCall {
 public:
  explicit ScopedCall(PoolEndpoint& endpoint)
      : calls_(endpoint.counted_by_channel() ? nullptr : &endpoint.calls()),
        start_(calls_ != nullptr ? absl::Now() : absl::InfinitePast()) {
    if (calls_ != nullptr) calls_->Started();
  }
  ~ScopedCall() {
    if (calls_ != nullptr) calls_->Finished(code_, absl::Now() - start_);
  }
  ScopedCall(const ScopedCall&) = delete;
  ScopedCall& operator=(const ScopedCall&) = delete;
  // How the call ended (UNKNOWN until said).
  void set_code(grpc::StatusCode code) { code_ = code; }
  void set_ok(bool ok) { code_ = ok ? grpc::StatusCode::OK : grpc::StatusCode::UNKNOWN; }

 private:
  CallCounters* const calls_;
  const absl::Time start_;
  grpc::StatusCode code_ = grpc::StatusCode::UNKNOWN;
};

// Which connectivity states the picker holds, given the states of the eligible
// endpoints (gRPC's round_robin: any READY -> the READY ones; else any not in
// TRANSIENT_FAILURE -> those; else all).
enum class PickTier { kReady, kNotFailing, kAll };

// How many eligible endpoints are in each state: the pool counts them as
// states change instead of rescanning.
struct StateCounts {
  int64_t ready = 0;
  int64_t failing = 0;  // TRANSIENT_FAILURE (and SHUTDOWN)
  int64_t other = 0;    // IDLE, CONNECTING
  int64_t total() const { return ready + failing + other; }
  void Add(ChannelState state, int64_t n);
};

PickTier ChoosePickTier(const StateCounts& counts);
// Whether an eligible endpoint in `state` belongs in a picker of `tier`.
bool InPickTier(PickTier tier, ChannelState state);

// What keeps the endpoints of a pool's pickers alive: the pool owns the
// endpoints it picks now; each picker holds the link made when it was
// published, which receives the endpoints the pool stops picking before the
// next picker, and holds the next link. So a picker keeps alive every endpoint
// it can hand out, and publishing a picker copies only raw pointers
// (O(n) x 8 bytes) and moves the shared_ptrs of the endpoints that left.
struct PickerLink {
  std::vector<std::shared_ptr<PoolEndpoint>> retired;
  std::shared_ptr<PickerLink> next;
  PickerLink() = default;
  PickerLink(const PickerLink&) = delete;
  PickerLink& operator=(const PickerLink&) = delete;
  ~PickerLink();  // iterative: a long chain does not recurse
};

// An immutable snapshot of the endpoints to pick from.
class Picker {
 public:
  // `empty_status` (Unavailable naming the Service and why) is what picks
  // return when `endpoints` is empty; `start` is where round-robin begins.
  Picker(std::vector<std::shared_ptr<PoolEndpoint>> endpoints, uint64_t start,
         absl::Status empty_status, PickPolicy policy = PickPolicy::kRoundRobin);
  // The pool's form: `endpoints` stay alive as long as `keep` (see PickerLink).
  Picker(std::vector<PoolEndpoint*> endpoints, std::shared_ptr<const PickerLink> keep,
         uint64_t start, absl::Status empty_status, PickPolicy policy = PickPolicy::kRoundRobin)
      : endpoints_(std::move(endpoints)),
        keep_(std::move(keep)),
        next_(start),
        empty_status_(std::move(empty_status)),
        policy_(policy) {}

  // The next endpoint by the policy (round-robin, or the less loaded of two at
  // random); null if empty.
  PoolEndpoint* Pick() const {
    const size_t n = endpoints_.size();
    if (n == 0) return nullptr;
    const uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    PoolEndpoint* e;
    if (policy_ == PickPolicy::kLeastRequest && n > 1) {
      // Two distinct endpoints from one well-mixed draw of the counter.
      const uint64_t x = Mix(i);
      const size_t a = static_cast<size_t>(x % n);
      size_t b = static_cast<size_t>((x >> 32) % (n - 1));
      if (b >= a) ++b;
      PoolEndpoint* ea = endpoints_[a];
      PoolEndpoint* eb = endpoints_[b];
      e = eb->calls().in_flight() < ea->calls().in_flight() ? eb : ea;
    } else {
      e = endpoints_[i % n];
    }
    e->calls().picks_.fetch_add(1, std::memory_order_relaxed);
    return e;
  }
  // As Pick(), skipping endpoints in `avoid` while another is available.
  PoolEndpoint* PickAvoiding(const std::vector<const PoolEndpoint*>& avoid) const {
    PoolEndpoint* e = Pick();
    for (size_t tries = 1; e != nullptr && tries < endpoints_.size() &&
                           std::find(avoid.begin(), avoid.end(), e) != avoid.end();
         ++tries) {
      e = Pick();
    }
    return e;
  }
  const std::vector<PoolEndpoint*>& endpoints() const { return endpoints_; }
  // Why it is empty (OK if it is not).
  const absl::Status& empty_status() const { return empty_status_; }
  PickPolicy policy() const { return policy_; }

 private:
  // splitmix64's finalizer: consecutive counters give unrelated draws.
  static uint64_t Mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  const std::vector<PoolEndpoint*> endpoints_;
  const std::shared_ptr<const PickerLink> keep_;
  mutable std::atomic<uint64_t> next_;
  const absl::Status empty_status_;
  const PickPolicy policy_ = PickPolicy::kRoundRobin;
};

template <typename T>
T* PoolEndpoint::Cached(const std::function<std::unique_ptr<T>()>& make) {
  const int slot = CacheSlot<T>();
  if (slot >= kCacheSlots) return nullptr;
  void* have = cache_[slot].load(std::memory_order_acquire);
  if (have != nullptr) return static_cast<T*>(have);
  std::unique_ptr<T> made = make();
  if (made == nullptr) return nullptr;
  void* expected = nullptr;
  cache_deleters_[slot].store([](void* p) { delete static_cast<T*>(p); },
                              std::memory_order_relaxed);
  if (cache_[slot].compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel)) {
    return made.release();
  }
  return static_cast<T*>(expected);  // another thread won; ours is dropped
}

}  // namespace kubegrpc

#endif  // KUBEGRPC_PICKER_H_
