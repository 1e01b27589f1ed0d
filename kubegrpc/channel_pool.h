// File: kubegrpc/channel_pool.h
// -----------------------------------------------------------------------------
// ChannelPool: the channels of one Service, one per endpoint, and the picker that
// hands them out round-robin. Discovery feeds it EndpointSets; it applies each as
// a delta, tracks each channel's connectivity and (optionally) health, and
// publishes an immutable Picker whenever the set of channels to use changes.
//
// Which endpoints the picker holds (gRPC's round_robin rules, plus health):
// the usable endpoints (see EndpointSet) that are not draining and, with health
// checks on, healthy; of those the READY ones, or if none is READY those not in
// TRANSIENT_FAILURE (so calls can wait for a connection), or if all are failing,
// all of them (calls fail fast and the retry helper can move on).
//
// An endpoint that leaves the set stops being picked at once and is released
// when the calls made through the call helper have finished, or after
// `drain_grace`. Channels handed out keep working for whoever holds them.
//
// Picking is lock-free (RcuPtr): it takes no lock that discovery or the pool
// hold, so it scales with threads; the index is one atomic fetch_add.
//
// Thread-safety: thread-safe. Health checks never run under the pool's lock and
// never block picks.

#ifndef KUBEGRPC_CHANNEL_POOL_H_
#define KUBEGRPC_CHANNEL_POOL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/clock.h"
#include "kubegrpc/endpoint_set.h"
#include "kubegrpc/internal/rcu_ptr.h"
#include "kubegrpc/subchannel.h"

namespace kubegrpc {

class PoolEndpoint;

struct HealthCheckOptions {
  enum class Mode { kNone, kGrpcHealth, kCustom };
  Mode mode = Mode::kNone;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
  // kGrpcHealth: the service name to ask about ("" = the whole server).
  std::string service;
  // kCustom: the user's check (the original package's Ping). It should return
  // by `deadline`; an error, an exception or an answer after the deadline takes
  // the endpoint out of rotation until a later check passes. With the pool's
  // worker (real time), each check runs on a thread of its own: one that hangs
  // only keeps its endpoint out (no new check for it starts until it returns)
  // and never holds up maintenance or Shutdown, which waits for checks at most
  // `timeout` and then abandons them (the thread ends when the check returns).
  // Without a worker (virtual time), checks run inline in RunMaintenance.
  std::function<absl::Status(PoolEndpoint& endpoint, absl::Time deadline)> ping;
};

struct PoolOptions {
  // How long a removed endpoint's channel is kept for calls already picked.
  absl::Duration drain_grace = absl::Seconds(10);
  HealthCheckOptions health;
  // Run maintenance (health checks, drain expiry) on a thread of the pool's own.
  // Tests on virtual time turn this off and call RunMaintenance().
  bool start_worker = true;
  Clock* clock = nullptr;  // default RealClock()
  uint64_t seed = 1;
};

// One endpoint of the pool, with its channel, state and counters. Lives as long
// as anyone holds it (pickers, the pool, calls in flight).
class PoolEndpoint : public std::enable_shared_from_this<PoolEndpoint> {
 public:
  PoolEndpoint(Endpoint endpoint, std::unique_ptr<Subchannel> subchannel);
  ~PoolEndpoint();

  const std::string& host_port() const { return host_port_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  ChannelState state() const { return state_.load(std::memory_order_relaxed); }
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

  // Counters (relaxed; for snapshots).
  std::atomic<int64_t> picks{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> in_flight{0};

  // A per-endpoint object of type T (a stub, a user's client), made once by
  // `make` and reused; lock-free after the first use.
  template <typename T>
  T* Cached(const std::function<std::unique_ptr<T>()>& make);

 private:
  friend class ChannelPool;
  static constexpr int kCacheSlots = 8;
  static int NextCacheSlot();
  template <typename T>
  static int CacheSlot() {
    static const int slot = NextCacheSlot();
    return slot;
  }

  const std::string host_port_;
  Endpoint endpoint_;  // guarded by the pool's mutex
  std::unique_ptr<Subchannel> subchannel_;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<ChannelState> state_{ChannelState::kIdle};
  std::atomic<bool> healthy_{true};
  bool draining_ = false;  // guarded by the pool's mutex
  absl::Time drain_deadline_;
  // A custom check of this endpoint is running on its own thread (pool's mutex).
  bool check_running_ = false;
  absl::Time check_deadline_;
  std::atomic<void*> cache_[kCacheSlots] = {};
  void (*cache_deleters_[kCacheSlots])(void*) = {};
};

// An immutable snapshot of the endpoints to pick from.
class Picker {
 public:
  // When empty, `reason` explains why, or if "" `why_empty()` is asked at pick time
  // (so that the message follows discovery's state).
  Picker(std::vector<std::shared_ptr<PoolEndpoint>> endpoints, uint64_t start,
         std::string service, std::string reason, std::function<std::string()> why_empty)
      : endpoints_(std::move(endpoints)),
        next_(start),
        service_(std::move(service)),
        reason_(std::move(reason)),
        why_empty_(std::move(why_empty)) {}

  // The next endpoint, round-robin; null if empty.
  PoolEndpoint* Pick() const {
    if (endpoints_.empty()) return nullptr;
    const uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    PoolEndpoint* e = endpoints_[i % endpoints_.size()].get();
    e->picks.fetch_add(1, std::memory_order_relaxed);
    return e;
  }
  const std::vector<std::shared_ptr<PoolEndpoint>>& endpoints() const { return endpoints_; }
  // Why it is empty: Unavailable naming the Service (OK if not empty).
  absl::Status EmptyStatus() const;

 private:
  const std::vector<std::shared_ptr<PoolEndpoint>> endpoints_;
  mutable std::atomic<uint64_t> next_;
  const std::string service_;
  const std::string reason_;
  const std::function<std::string()> why_empty_;
};

struct EndpointSnapshot {
  std::string host_port;
  std::string pod_name;
  std::string zone;
  ChannelState state;
  bool healthy;
  bool draining;
  bool picked;  // in the current picker
  int64_t picks;
  int64_t failures;
  int64_t in_flight;
};

class ChannelPool {
 public:
  // `why_empty` explains an empty picker (e.g. from discovery's status).
  ChannelPool(std::string service_name, SubchannelFactory* factory, PoolOptions options,
              std::function<std::string()> why_empty = nullptr);
  ~ChannelPool();  // Shutdown()s

  // Applies the usable endpoints of `set` (discovery's callback). With `delta`
  // (discovery's, from the set it published before `set`, which this pool must
  // have been given last), only the changed endpoints are touched: O(changes x
  // log n) rather than O(n log n), which matters for Services of thousands of
  // pods. Endpoints that come back (ready again) reconnect without backoff.
  void Apply(const std::shared_ptr<const EndpointSet>& set, const EndpointDelta* delta = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Calls `f(PoolEndpoint*)` with the next endpoint (or nullptr and the reason),
  // without taking a lock. `f` must not keep the pointer past its return unless
  // it copies what it needs (the channel, a shared_ptr from Share()).
  template <typename F>
  auto WithPick(F&& f) const {
    internal::RcuPtr<Picker>::ReadGuard picker(picker_);
    PoolEndpoint* e = picker->Pick();
    if (e != nullptr) return f(e, absl::OkStatus());
    return f(e, picker->EmptyStatus());
  }
  // As WithPick, skipping endpoints in `avoid` when another is available.
  template <typename F>
  auto WithPickAvoiding(const std::vector<const PoolEndpoint*>& avoid, F&& f) const {
    internal::RcuPtr<Picker>::ReadGuard picker(picker_);
    PoolEndpoint* e = picker->Pick();
    for (size_t tries = 1; e != nullptr && tries < picker->endpoints().size() &&
                           std::find(avoid.begin(), avoid.end(), e) != avoid.end();
         ++tries) {
      e = picker->Pick();
    }
    if (e != nullptr) return f(e, absl::OkStatus());
    return f(e, picker->EmptyStatus());
  }

  // Installs (or replaces) the health check; kNone turns it off.
  void SetHealthCheck(HealthCheckOptions health) ABSL_LOCKS_EXCLUDED(mu_);
  // As SetHealthCheck, unless the check installed last had the same `key`.
  void SetHealthCheckOnce(const void* key, HealthCheckOptions health) ABSL_LOCKS_EXCLUDED(mu_);
  HealthCheckOptions health_check() const ABSL_LOCKS_EXCLUDED(mu_);

  // Health checks that are due, and releases of drained endpoints. The worker
  // thread calls this; tests on virtual time call it directly.
  void RunMaintenance() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until the picker has a READY endpoint; false at `deadline`.
  bool WaitForReady(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<EndpointSnapshot> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the worker and health checks, releases every channel; picks fail.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& service_name() const { return service_name_; }

 private:
  void OnStateChange(PoolEndpoint* e, ChannelState state) ABSL_LOCKS_EXCLUDED(mu_);
  void SetHealthy(PoolEndpoint* e, bool healthy) ABSL_LOCKS_EXCLUDED(mu_);
  // Rebuilds the picker if the endpoints to pick from changed.
  void RebuildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The fixed reason for an empty picker, or "" to ask why_empty_ at pick time.
  std::string EmptyReasonLocked(size_t unhealthy) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartHealthChecks(const std::vector<std::shared_ptr<PoolEndpoint>>& due);
  // The end of a custom check that ran on its own thread.
  void FinishCheck(PoolEndpoint* e, bool healthy) ABSL_LOCKS_EXCLUDED(mu_);
  void WorkerLoop();

  // Shared with custom-check threads, which may outlive the pool: they report
  // through `pool` only while it is set. Lock order: CheckThreads::mu, then mu_.
  struct CheckThreads {
    absl::Mutex mu;
    ChannelPool* pool ABSL_GUARDED_BY(mu) = nullptr;
    int running ABSL_GUARDED_BY(mu) = 0;
  };
  const std::shared_ptr<CheckThreads> check_threads_ = std::make_shared<CheckThreads>();

  const std::string service_name_;
  SubchannelFactory* const factory_;
  Clock* const clock_;
  const bool start_worker_;
  const std::function<std::string()> why_empty_;
  internal::RcuPtr<Picker> picker_;

  mutable absl::Mutex mu_;
  PoolOptions options_ ABSL_GUARDED_BY(mu_);
  // By HostPort. A B-tree: rebuilding the picker walks every entry, and for
  // thousands of endpoints a node-per-entry tree's pointer chasing dominated.
  absl::btree_map<std::string, std::shared_ptr<PoolEndpoint>> endpoints_ ABSL_GUARDED_BY(mu_);
  std::vector<PoolEndpoint*> picked_ ABSL_GUARDED_BY(mu_);  // the current picker's
  bool have_set_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_health_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  // The fixed empty-reason of the current picker (see EmptyReasonLocked).
  std::string picked_reason_ ABSL_GUARDED_BY(mu_);
  int outstanding_checks_ ABSL_GUARDED_BY(mu_) = 0;  // async health checks in flight
  const void* health_key_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread worker_;
  Cancellation stop_worker_;
};

template <typename T>
T* PoolEndpoint::Cached(const std::function<std::unique_ptr<T>()>& make) {
  const int slot = CacheSlot<T>();
  if (slot >= kCacheSlots) return nullptr;  // too many types: the caller makes its own
  void* have = cache_[slot].load(std::memory_order_acquire);
  if (have != nullptr) return static_cast<T*>(have);
  std::unique_ptr<T> made = make();
  void* expected = nullptr;
  if (cache_[slot].compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel)) {
    cache_deleters_[slot] = [](void* p) { delete static_cast<T*>(p); };
    return made.release();
  }
  return static_cast<T*>(expected);  // another thread won; ours is dropped
}

}  // namespace kubegrpc

#endif  // KUBEGRPC_CHANNEL_POOL_H_
