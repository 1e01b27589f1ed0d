// File: kubegrpc/channel_pool.h
// -----------------------------------------------------------------------------
// ChannelPool: the control plane of one Service's channels. Discovery feeds it
// EndpointSets (as deltas); it keeps one Subchannel per usable endpoint, counts
// their connectivity as it changes, drains endpoints that leave, runs health
// checks through a HealthChecker, and publishes an immutable Picker (see
// picker.h for which endpoints it holds) whenever what picks may return changes.
//
//   ChannelPool pool("prod/greeter:50051", &factory, options);
//   pool.Apply(set, &delta);                  // discovery's callback
//   pool.WithPick([](PoolEndpoint* e, const absl::Status& why) { ... });
//
// An endpoint that leaves the set stops being picked at once and its channel is
// released when the calls counted on it (CallCounters) have finished, or after
// `drain_grace`. Channels handed out keep working for whoever holds them.
//
// Zone-aware routing (PoolOptions::zone): while the client's zone has
// enough READY endpoints hinted for it, the picker holds only those.
//
// Picking takes no lock that discovery or the pool hold (RcuPtr); a state
// change costs O(1) unless it changes which endpoints the picker holds, which
// rebuilds the picker in O(n).
//
// Thread-safety: thread-safe. No lock is held across I/O, a health check or a
// subchannel call; subchannel callbacks arrive without the pool's lock held.

#ifndef KUBEGRPC_CHANNEL_POOL_H_
#define KUBEGRPC_CHANNEL_POOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/clock.h"
#include "kubegrpc/endpoint_set.h"
#include "kubegrpc/event.h"
#include "kubegrpc/internal/health_checker.h"
#include "kubegrpc/internal/rcu_ptr.h"
#include "kubegrpc/k8s_client.h"
#include "kubegrpc/picker.h"
#include "kubegrpc/pool_options.h"
#include "kubegrpc/snapshot.h"
#include "kubegrpc/subchannel.h"

namespace kubegrpc {

class ChannelPool {
 public:
  // `factory` must outlive the pool.
  // `events`, if set, hears of endpoints added, removed, ejected and returned;
  // it is called with the pool's lock held, so it must only queue the event
  // (the Balancer passes internal::EventQueue::Post).
  ChannelPool(std::string service_name, SubchannelFactory* factory, PoolOptions options,
              std::function<void(BalancerEvent)> events = nullptr);
  ~ChannelPool();  // Shutdown()s
  ChannelPool(const ChannelPool&) = delete;
  ChannelPool& operator=(const ChannelPool&) = delete;

  // Applies the usable endpoints of `set` (discovery's callback). With `delta`
  // (discovery's, from the set it published before `set`, which this pool must
  // have been given last), only the changed endpoints are touched: O(changes x
  // log n). Endpoints that come back (ready again) reconnect without backoff.
  void Apply(const std::shared_ptr<const EndpointSet>& set, const EndpointDelta* delta = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Discovery's state: what an empty picker says about why it is empty.
  void SetDiscoveryStatus(const DiscoveryStatus& status) ABSL_LOCKS_EXCLUDED(mu_);

  // Calls `f(PoolEndpoint*, const absl::Status&)` with the next endpoint (or
  // nullptr and why there is none), without taking a lock. `f` must not keep
  // the pointer past its return unless it takes a shared_ptr (shared_from_this).
  template <typename F>
  auto WithPick(F&& f) const {
    internal::RcuPtr<Picker>::ReadGuard picker(picker_);
    return f(picker->Pick(), picker->empty_status());
  }
  // Why a pick would find nothing now (OK if the picker has endpoints); not a pick.
  absl::Status EmptyStatus() const {
    internal::RcuPtr<Picker>::ReadGuard picker(picker_);
    return picker->empty_status();
  }
  // As WithPick, skipping endpoints in `avoid` while another is available.
  template <typename F>
  auto WithPickAvoiding(const std::vector<const PoolEndpoint*>& avoid, F&& f) const {
    internal::RcuPtr<Picker>::ReadGuard picker(picker_);
    return f(picker->PickAvoiding(avoid), picker->empty_status());
  }

  // Installs (or replaces) the health check; kNone turns it off. With a
  // non-null `once_key`, does nothing if the check installed last had that key.
  void SetHealthCheck(HealthCheckOptions health, const void* once_key = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  HealthCheckOptions health_check() const { return checker_.options(); }

  // Health checks that are due, and releases of drained endpoints. The worker
  // thread calls this; tests on virtual time call it directly.
  void RunMaintenance() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until the picker has a READY endpoint; false at `deadline` or after
  // Shutdown().
  bool WaitForReady(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // OK, or why the pool holds only a subset of the usable endpoints
  // (ResourceExhausted: PoolOptions::max_endpoints or the descriptor limit).
  absl::Status status() const ABSL_LOCKS_EXCLUDED(mu_);

  // The client's zone for zone-aware routing (PoolOptions::zone); "" turns
  // it off. O(n) when it changes.
  void SetZone(std::string zone) ABSL_LOCKS_EXCLUDED(mu_);
  // Zone-aware routing as it stands.
  ZoneRouting zone_routing() const ABSL_LOCKS_EXCLUDED(mu_);

  // Every endpoint the pool holds (draining ones too), by host:port. O(n), in
  // batches: it holds up updates for a batch at a time.
  std::vector<EndpointSnapshot> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the worker and health checks, releases every channel; picks then fail.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::shared_ptr<PoolEndpoint> endpoint;
    std::shared_ptr<Subchannel> subchannel;
    Endpoint info;  // the latest from discovery
    ChannelState state = ChannelState::kIdle;
    // Counted in the states once its subchannel has started and reported.
    bool started = false;
    bool healthy = true;
    bool draining = false;
    bool ejected = false;  // an outlier, out until ejected_until
    bool hinted = false;   // it carries zone hints (hints.forZones)
    bool local = false;    // hinted for the client's zone
    absl::Time drain_deadline;
    absl::Time ejected_until;
    int ejections = 0;  // in a row (A50's multiplier)
    int64_t ejections_total = 0;
    std::string ejection_reason;
    int64_t pick_pos = -1;  // its index in picked_, or -1
    bool eligible() const { return started && healthy && !draining && !ejected; }
  };
  // What UpdateLocked changes about an entry.
  struct Flags {
    bool healthy;
    bool draining;
    bool ejected;
    ChannelState state;
  };
  static Flags FlagsOf(const Entry& e) { return {e.healthy, e.draining, e.ejected, e.state}; }
  // Lets subchannel callbacks reach the pool only while it is up: they may run
  // on gRPC's thread after the pool released their subchannel.
  struct Gate {
    absl::Mutex mu;
    ChannelPool* pool ABSL_GUARDED_BY(mu) = nullptr;
  };

  void OnStateChange(PoolEndpoint* endpoint, ChannelState state) ABSL_LOCKS_EXCLUDED(mu_);
  void SetHealthy(PoolEndpoint* endpoint, bool healthy) ABSL_LOCKS_EXCLUDED(mu_);
  // The entry that holds `endpoint` (null if the pool let it go).
  Entry* FindLocked(PoolEndpoint* endpoint) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves `e` in or out of the eligible counts around a change of it; returns
  // whether the picker's endpoints may have changed.
  bool UpdateLocked(Entry& e, Flags next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets e's zone flags from its hints; returns whether the picker's
  // endpoints may have changed.
  bool SetHintsLocked(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds (sign +1) or removes (-1) e's share of the counts below.
  void CountLocked(const Entry& e, int64_t sign) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The zone rule (PoolOptions::zone): whether picks keep to local endpoints.
  bool LocalOnlyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pick tier the counts call for now.
  PickTier WantedTierLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `e` belongs in a picker of tier_ and local_only_.
  bool InPickerLocked(const Entry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return e.eligible() && InPickTier(tier_, e.state) && (!local_only_ || e.local);
  }
  ZoneRouting ZoneRoutingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A run of failed calls on the endpoint `key` whose counters are `calls`.
  void OnFailureStreak(const std::string& key, const CallCounters* calls) ABSL_LOCKS_EXCLUDED(mu_);
  // The outlier rules for the counters of a new entry `key`.
  CallCounters::Rules CallRulesFor(const std::string& key);
  // Ejects `e` for `reason` if the max-ejection percentage allows; returns
  // whether the picker's endpoints may have changed.
  bool TryEjectLocked(Entry& e, absl::Time now, std::string reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns the ejected endpoints whose time is up; every interval, runs the
  // success-rate and failure-percentage rules. Returns whether the picker's
  // endpoints may have changed.
  bool OutlierMaintenanceLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts `e` in or takes it out of picked_: O(log n) (swap with the last).
  void SetPickedLocked(Entry& e, bool in) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes a picker of picked_ (recomputed from every entry only when the
  // pick tier changed): copies n raw pointers, no reference counts.
  void RebuildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the picker only if it is empty (its reason may have changed).
  void RebuildIfEmptyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string EmptyReasonLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkerLoop();

  const std::string service_name_;
  SubchannelFactory* const factory_;
  Clock* const clock_;
  const bool start_worker_;
  const std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  internal::RcuPtr<Picker> picker_;
  internal::HealthChecker checker_;

  // Sets larger than this are checked against the descriptor limit, which must
  // keep this many descriptors free for everything else the process does.
  static constexpr size_t kCheckDescriptorsAbove = 512;
  static constexpr int64_t kReservedDescriptors = 256;

  mutable absl::Mutex mu_;
  const absl::Duration drain_grace_;
  const size_t max_endpoints_;
  const std::string subset_key_;
  bool subset_ ABSL_GUARDED_BY(mu_) = false;  // the last set was subset
  absl::Status pool_status_ ABSL_GUARDED_BY(mu_);
  absl::Duration health_interval_ ABSL_GUARDED_BY(mu_);
  bool health_on_ ABSL_GUARDED_BY(mu_) = false;
  const void* health_key_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time next_health_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // By host:port. A B-tree: a full rebuild of the picker walks every entry.
  absl::btree_map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  // The keys of the draining entries: what maintenance visits to release
  // them, so that its pass costs O(draining), not O(entries) under mu_.
  absl::btree_set<std::string> draining_ ABSL_GUARDED_BY(mu_);
  // The keys of the ejected entries (outlier detection).
  absl::btree_set<std::string> ejected_ ABSL_GUARDED_BY(mu_);
  const std::function<void(BalancerEvent)> events_;
  void EventLocked(BalancerEvent::Kind kind, const Entry& e, std::string detail, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const OutlierDetectionOptions outlier_;
  const StatusCodeMask failure_mask_;  // outlier_.failure_codes
  const PickPolicy policy_;
  absl::Time next_outlier_pass_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The endpoints to pick (the eligible entries in tier_), kept as entries
  // change; in no particular order.
  std::vector<std::shared_ptr<PoolEndpoint>> picked_ ABSL_GUARDED_BY(mu_);
  // Those that left picked_ since the last picker; they go to its link.
  std::vector<std::shared_ptr<PoolEndpoint>> leaving_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<PickerLink> link_ ABSL_GUARDED_BY(mu_);  // the current picker's
  bool rebuild_all_ ABSL_GUARDED_BY(mu_) = false;          // picked_ must be recomputed
  // The descriptor limit's room for channels, as last read (-1: unknown), and
  // when: /proc/self/fd is read again when the set grows past the size it was
  // read at, and every kRescanEvery applies of large sets.
  static constexpr int kRescanEvery = 64;
  int64_t descriptor_room_ ABSL_GUARDED_BY(mu_) = -1;
  size_t scanned_usable_ ABSL_GUARDED_BY(mu_) = 0;
  int applies_since_scan_ ABSL_GUARDED_BY(mu_) = 0;
  StateCounts eligible_ ABSL_GUARDED_BY(mu_);            // the states of the eligible entries
  StateCounts local_eligible_ ABSL_GUARDED_BY(mu_);      // of those, the local ones
  int64_t live_unhinted_ ABSL_GUARDED_BY(mu_) = 0;       // not draining, without zone hints
  int64_t live_local_ ABSL_GUARDED_BY(mu_) = 0;          // not draining, local
  std::string zone_ ABSL_GUARDED_BY(mu_);                // the client's
  bool local_only_ ABSL_GUARDED_BY(mu_) = false;         // the current picker's
  int64_t unhealthy_ ABSL_GUARDED_BY(mu_) = 0;           // not draining, failing health checks
  PickTier tier_ ABSL_GUARDED_BY(mu_) = PickTier::kAll;  // the current picker's
  bool picker_empty_ ABSL_GUARDED_BY(mu_) = true;
  bool have_set_ ABSL_GUARDED_BY(mu_) = false;
  size_t set_all_ ABSL_GUARDED_BY(mu_) = 0;     // endpoints in the last set
  size_t set_usable_ ABSL_GUARDED_BY(mu_) = 0;  // of which usable
  std::optional<DiscoveryStatus> discovery_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
  Cancellation stop_worker_;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_CHANNEL_POOL_H_
