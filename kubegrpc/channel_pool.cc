#include "kubegrpc/channel_pool.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kubegrpc/internal/outlier.h"
#include "kubegrpc/internal/subset.h"

namespace kubegrpc {

ChannelPool::ChannelPool(std::string service_name, SubchannelFactory* factory, PoolOptions options,
                         std::function<void(BalancerEvent)> events)
    : service_name_(std::move(service_name)),
      factory_(factory),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      start_worker_(options.start_worker),
      picker_(std::make_unique<Picker>(
          std::vector<std::shared_ptr<PoolEndpoint>>(), 0,
          absl::UnavailableError(absl::StrCat("kube-grpc: no endpoint to call for Service ",
                                              service_name_, ": not discovered yet")))),
      checker_(clock_, options.start_worker,
               [this](PoolEndpoint* e, bool healthy) { SetHealthy(e, healthy); }),
      drain_grace_(options.drain_grace),
      max_endpoints_(options.max_endpoints),
      subset_key_(options.subset_key.empty() ? internal::DefaultSubsetKey() : options.subset_key),
      events_(std::move(events)),
      outlier_(std::move(options.outlier_detection)),
      failure_mask_(MaskOf(outlier_.failure_codes)),
      policy_(options.policy),
      zone_(std::move(options.zone)),
      rng_(options.seed) {
  SetHealthCheck(options.health);
  {
    absl::MutexLock lock(&gate_->mu);
    gate_->pool = this;
  }
  if (start_worker_) worker_ = std::thread([this] { WorkerLoop(); });
}

ChannelPool::~ChannelPool() { Shutdown(); }

void ChannelPool::Shutdown() {
  stop_worker_.Cancel();
  if (worker_.joinable()) worker_.join();
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  // Health-check answers and subchannel callbacks report into the pool: stop
  // them first (neither holds the pool's lock while it waits for them).
  checker_.Shutdown();
  {
    absl::MutexLock lock(&gate_->mu);
    gate_->pool = nullptr;
  }
  absl::btree_map<std::string, std::unique_ptr<Entry>> released;
  {
    absl::MutexLock lock(&mu_);
    released.swap(entries_);
    draining_.clear();
    ejected_.clear();
    eligible_ = StateCounts();
    local_eligible_ = StateCounts();
    unhealthy_ = 0;
    live_unhinted_ = 0;
    live_local_ = 0;
    rebuild_all_ = true;
    RebuildLocked();
  }
  for (auto& [key, e] : released) e->subchannel->Shutdown();
}

ChannelPool::Entry* ChannelPool::FindLocked(PoolEndpoint* endpoint) {
  auto it = entries_.find(endpoint->host_port());
  if (it == entries_.end() || it->second->endpoint.get() != endpoint) return nullptr;
  return it->second.get();
}

void ChannelPool::CountLocked(const Entry& e, int64_t sign) {
  if (e.eligible()) {
    eligible_.Add(e.state, sign);
    if (e.local) local_eligible_.Add(e.state, sign);
  }
  if (e.draining) return;
  if (!e.healthy) unhealthy_ += sign;
  if (!e.hinted) live_unhinted_ += sign;
  if (e.local) live_local_ += sign;
}

bool ChannelPool::LocalOnlyLocked() const {
  // Every endpoint hinted (kube-proxy ignores partial hints), some for this
  // zone, and enough of those READY: at least one, and at least half.
  return !zone_.empty() && live_unhinted_ == 0 && live_local_ > 0 && local_eligible_.ready >= 1 &&
         2 * local_eligible_.ready >= live_local_;
}

PickTier ChannelPool::WantedTierLocked() const {
  return LocalOnlyLocked() ? PickTier::kReady : ChoosePickTier(eligible_);
}

namespace {
bool HintedFor(const Endpoint& info, const std::string& zone) {
  return !zone.empty() &&
         std::find(info.for_zones.begin(), info.for_zones.end(), zone) != info.for_zones.end();
}
}  // namespace

bool ChannelPool::SetHintsLocked(Entry& e) {
  const bool hinted = !e.info.for_zones.empty();
  const bool local = HintedFor(e.info, zone_);
  if (hinted == e.hinted && local == e.local) return false;
  const bool was_in = InPickerLocked(e);
  CountLocked(e, -1);
  e.hinted = hinted;
  e.local = local;
  CountLocked(e, +1);
  const bool is_in = InPickerLocked(e);
  if (was_in != is_in) SetPickedLocked(e, is_in);
  return was_in != is_in || LocalOnlyLocked() != local_only_ || WantedTierLocked() != tier_;
}

bool ChannelPool::UpdateLocked(Entry& e, Flags next) {
  const bool was_in = InPickerLocked(e);
  CountLocked(e, -1);
  auto track = [&e](absl::btree_set<std::string>& keys, bool was, bool is) {
    if (was == is) return;
    if (is) {
      keys.insert(e.endpoint->host_port());
    } else {
      keys.erase(e.endpoint->host_port());
    }
  };
  track(draining_, e.draining, next.draining);
  track(ejected_, e.ejected, next.ejected);
  e.healthy = next.healthy;
  e.draining = next.draining;
  e.ejected = next.ejected;
  e.state = next.state;
  CountLocked(e, +1);
  const bool is_in = InPickerLocked(e);
  if (was_in != is_in) SetPickedLocked(e, is_in);
  return was_in != is_in || LocalOnlyLocked() != local_only_ || WantedTierLocked() != tier_;
}

void ChannelPool::SetPickedLocked(Entry& e, bool in) {
  if (in) {
    if (e.pick_pos >= 0) return;
    e.pick_pos = static_cast<int64_t>(picked_.size());
    picked_.push_back(e.endpoint);
    return;
  }
  if (e.pick_pos < 0) return;
  const size_t pos = static_cast<size_t>(e.pick_pos);
  e.pick_pos = -1;
  leaving_.push_back(std::move(picked_[pos]));
  if (pos + 1 != picked_.size()) {
    picked_[pos] = std::move(picked_.back());
    if (Entry* moved = FindLocked(picked_[pos].get())) moved->pick_pos = static_cast<int64_t>(pos);
  }
  picked_.pop_back();
}

void ChannelPool::Apply(const std::shared_ptr<const EndpointSet>& set, const EndpointDelta* delta) {
  // New entries' endpoint and subchannel, started outside the lock.
  std::vector<std::pair<std::shared_ptr<PoolEndpoint>, std::shared_ptr<Subchannel>>> created;
  std::vector<std::shared_ptr<Subchannel>> returned;  // drained, now wanted again
  bool have_set_before = false;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    const absl::Time now = clock_->Now();
    bool changed = false;
    auto drain = [&](Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (e.draining) return;
      e.drain_deadline = now + drain_grace_;
      EventLocked(BalancerEvent::Kind::kEndpointRemoved, e,
                  absl::StrCat("draining for at most ", absl::FormatDuration(drain_grace_)), now);
      Flags f = FlagsOf(e);
      f.draining = true;
      f.ejected = false;  // leaving anyway: no longer counts against the percentage
      changed |= UpdateLocked(e, f);
    };
    auto want = [&](const std::string& key,
                    const Endpoint& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = entries_.find(key);
      if (it == entries_.end()) {
        auto e = std::make_unique<Entry>();
        auto calls = std::make_shared<CallCounters>(CallRulesFor(key));
        e->subchannel = factory_->Create(info, calls);
        e->endpoint =
            std::make_shared<PoolEndpoint>(key, info.pod_name, e->subchannel->channel(),
                                           std::move(calls), e->subchannel->CountsCalls());
        e->info = info;
        e->hinted = !info.for_zones.empty();
        e->local = HintedFor(info, zone_);
        CountLocked(*e, +1);  // not started: not eligible yet
        created.emplace_back(e->endpoint, e->subchannel);
        EventLocked(BalancerEvent::Kind::kEndpointAdded, *e, "", now);
        entries_.emplace(key, std::move(e));
        return;  // in the picker once started
      }
      Entry& e = *it->second;
      if (e.draining) {
        // Back (a flapping pod): no new channel needed.
        Flags f = FlagsOf(e);
        f.draining = false;
        changed |= UpdateLocked(e, f);
        EventLocked(BalancerEvent::Kind::kEndpointAdded, e, "back while it was draining", now);
        returned.push_back(e.subchannel);
      }
      if (e.info != info) {
        e.info = info;
        changed |= SetHintsLocked(e);
      }
    };
    have_set_before = have_set_;
    // How many endpoints this pool may hold: max_endpoints, and what the
    // descriptor limit leaves room for (checked only for large sets).
    const size_t usable = set->usable().size();
    size_t limit = max_endpoints_;
    std::string limited_by = absl::StrCat("PoolOptions::max_endpoints is ", max_endpoints_);
    if (factory_->UsesDescriptors() && (usable > kCheckDescriptorsAbove || subset_)) {
      // Reading /proc/self/fd costs O(descriptors): only when the set grows
      // past what it was read for, while subsetting, or now and then.
      if (subset_ || usable > scanned_usable_ || ++applies_since_scan_ >= kRescanEvery) {
        scanned_usable_ = usable;
        applies_since_scan_ = 0;
        std::optional<int64_t> free = internal::FreeDescriptors();
        descriptor_room_ =
            free.has_value() ? static_cast<int64_t>(entries_.size()) + *free - kReservedDescriptors
                             : -1;
      }
      if (descriptor_room_ >= 0 && descriptor_room_ < static_cast<int64_t>(limit)) {
        limit = static_cast<size_t>(descriptor_room_);
        limited_by = absl::StrCat(
            "the process's descriptor limit (RLIMIT_NOFILE) leaves room "
            "for ",
            limit, " channels, keeping ", kReservedDescriptors, " descriptors free");
      }
    }
    const bool subset = usable > limit;
    if (subset) {
      pool_status_ = absl::ResourceExhaustedError(
          absl::StrCat("kube-grpc: Service ", service_name_, " has ", usable,
                       " usable endpoints; this client keeps a deterministic subset of ", limit,
                       " (", limited_by, ")"));
    } else {
      pool_status_ = absl::OkStatus();
    }
    if (delta != nullptr && have_set_ && !subset && !subset_) {
      for (const Endpoint& e : delta->removed) {
        auto it = entries_.find(e.HostPort());
        if (it != entries_.end()) drain(*it->second);
      }
      for (const Endpoint& e : delta->added) want(e.HostPort(), e);
      for (const Endpoint& e : delta->changed) want(e.HostPort(), e);
    } else {
      std::map<std::string, const Endpoint*> wanted;
      if (subset) {
        for (const Endpoint* e : internal::RendezvousSubset(set->usable(), subset_key_, limit)) {
          wanted.emplace(e->HostPort(), e);
        }
      } else {
        for (const Endpoint& e : set->usable()) wanted.emplace(e.HostPort(), &e);
      }
      for (auto& [key, e] : entries_) {
        if (wanted.count(key) == 0) drain(*e);
      }
      for (const auto& [key, e] : wanted) want(key, *e);
    }
    subset_ = subset;
    have_set_ = true;
    const bool reason_changed =
        set_all_ != set->all().size() || set_usable_ != set->usable().size();
    set_all_ = set->all().size();
    set_usable_ = set->usable().size();
    if (changed) {
      RebuildLocked();
    } else if (reason_changed || !have_set_before) {
      RebuildIfEmptyLocked();
    }
  }
  for (const auto& s : returned) s->ResetBackoff();
  if (created.empty()) return;
  // Connect outside the lock; later changes come back through OnStateChange.
  for (const auto& [endpoint, subchannel] : created) {
    std::weak_ptr<PoolEndpoint> weak = endpoint;
    subchannel->Start([gate = gate_, weak](ChannelState state) {
      std::shared_ptr<PoolEndpoint> alive = weak.lock();
      if (alive == nullptr) return;
      absl::MutexLock lock(&gate->mu);
      if (gate->pool != nullptr) gate->pool->OnStateChange(alive.get(), state);
    });
    // gRPC shares connections between channels to the same address: a pod that
    // comes back on an address whose old channel was released may find that
    // connection waiting out a reconnect backoff. The API says it is ready.
    if (have_set_before) subchannel->ResetBackoff();
  }
  // The new endpoints' first states, in one picker update.
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  bool changed = false;
  for (const auto& [endpoint, subchannel] : created) {
    Entry* e = FindLocked(endpoint.get());
    if (e == nullptr || e->started) continue;
    CountLocked(*e, -1);
    e->state = subchannel->state();
    e->started = true;
    CountLocked(*e, +1);
    if (e->eligible()) {
      if (InPickerLocked(*e)) SetPickedLocked(*e, true);
      changed = true;
    }
  }
  if (changed) RebuildLocked();
}

absl::Status ChannelPool::status() const {
  absl::MutexLock lock(&mu_);
  return pool_status_;
}

void ChannelPool::SetZone(std::string zone) {
  absl::MutexLock lock(&mu_);
  if (shutdown_ || zone == zone_) return;
  zone_ = std::move(zone);
  for (auto& [key, e] : entries_) SetHintsLocked(*e);
  rebuild_all_ = true;
  RebuildLocked();
}

ZoneRouting ChannelPool::zone_routing() const {
  absl::MutexLock lock(&mu_);
  return ZoneRoutingLocked();
}

ZoneRouting ChannelPool::ZoneRoutingLocked() const {
  ZoneRouting z;
  z.client_zone = zone_;
  z.active = local_only_;
  z.local = live_local_;
  z.local_ready = local_eligible_.ready;
  if (zone_.empty()) {
    z.reason =
        "no client zone (PoolOptions::zone, KUBEGRPC_ZONE, or NODE_NAME's node label): every "
        "zone";
  } else if (live_unhinted_ > 0) {
    z.reason = absl::StrCat(live_unhinted_,
                            " endpoints carry no zone hints (the Service sets no "
                            "trafficDistribution: PreferSameZone): every zone");
  } else if (live_local_ == 0) {
    z.reason = absl::StrCat("no endpoint is hinted for zone ", zone_, ": every zone");
  } else if (local_only_) {
    z.reason = absl::StrCat("zone ", zone_, ": ", local_eligible_.ready, " of its ", live_local_,
                            " endpoints are READY");
  } else {
    z.reason = absl::StrCat("spilling over to every zone: ", local_eligible_.ready, " of the ",
                            live_local_, " endpoints in zone ", zone_,
                            " are READY (it needs at least one, and half)");
  }
  return z;
}

void ChannelPool::SetDiscoveryStatus(const DiscoveryStatus& status) {
  absl::MutexLock lock(&mu_);
  discovery_ = status;
  RebuildIfEmptyLocked();
}

void ChannelPool::OnStateChange(PoolEndpoint* endpoint, ChannelState state) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  Entry* e = FindLocked(endpoint);
  if (e == nullptr || e->state == state) return;
  Flags f = FlagsOf(*e);
  f.state = state;
  if (UpdateLocked(*e, f)) RebuildLocked();
}

void ChannelPool::SetHealthy(PoolEndpoint* endpoint, bool healthy) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  Entry* e = FindLocked(endpoint);
  if (e == nullptr || e->healthy == healthy) return;
  Flags f = FlagsOf(*e);
  f.healthy = healthy;
  if (UpdateLocked(*e, f)) {
    RebuildLocked();
  } else {
    RebuildIfEmptyLocked();  // the count of unhealthy endpoints is its reason
  }
}

void ChannelPool::SetHealthCheck(HealthCheckOptions health, const void* once_key) {
  const bool off = health.mode == HealthCheckOptions::Mode::kNone;
  {
    absl::MutexLock lock(&mu_);
    if (once_key != nullptr && health_key_ == once_key) return;
    health_key_ = once_key;
    health_on_ = !off;
    health_interval_ = health.interval;
    next_health_check_ = absl::InfinitePast();  // check soon
  }
  checker_.SetOptions(std::move(health));
  if (!off) return;
  absl::MutexLock lock(&mu_);
  bool changed = false;
  for (auto& [key, e] : entries_) {
    if (e->healthy) continue;
    Flags f = FlagsOf(*e);
    f.healthy = true;
    changed |= UpdateLocked(*e, f);
  }
  if (changed) RebuildLocked();
}

std::string ChannelPool::EmptyReasonLocked() const {
  if (shutdown_) return "the balancer is shut down";
  if (unhealthy_ > 0) {
    return absl::StrCat("none of its ", unhealthy_, " endpoints passes health checks");
  }
  if (!ejected_.empty()) {
    return absl::StrCat("its ", ejected_.size(),
                        " endpoints are ejected as outliers (their calls failed)");
  }
  if (!discovery_.has_value()) return have_set_ ? "no ready endpoints" : "not discovered yet";
  if (!discovery_->synced) {
    return discovery_->last_error.ok()
               ? "waiting for the first answer from the Kubernetes API"
               : absl::StrCat("discovery has not succeeded since start-up; last error: ",
                              discovery_->last_error.message());
  }
  if (!have_set_ || set_all_ == 0) return "the Service has no endpoints";
  if (set_usable_ == 0) return absl::StrCat("none of its ", set_all_, " endpoints is ready");
  return "its endpoints are not connected yet";
}

void ChannelPool::RebuildIfEmptyLocked() {
  if (picker_empty_) RebuildLocked();
}

void ChannelPool::RebuildLocked() {
  const bool local_only = LocalOnlyLocked();
  const PickTier tier = WantedTierLocked();
  if (tier != tier_ || local_only != local_only_ || rebuild_all_) {
    // Which states (or zones) are picked changed: every entry may move.
    if (local_only != local_only_ && events_ && !shutdown_) {
      BalancerEvent event;
      event.kind = BalancerEvent::Kind::kZoneRouting;
      event.service = service_name_;
      event.time = clock_->Now();
      local_only_ = local_only;
      event.detail = ZoneRoutingLocked().reason;
      events_(std::move(event));
    }
    tier_ = tier;
    local_only_ = local_only;
    rebuild_all_ = false;
    for (auto& e : picked_) leaving_.push_back(std::move(e));
    picked_.clear();
    for (const auto& [key, e] : entries_) {
      e->pick_pos = -1;
      if (InPickerLocked(*e)) SetPickedLocked(*e, true);
    }
  }
  std::vector<PoolEndpoint*> pick(picked_.size());
  for (size_t i = 0; i < picked_.size(); ++i) pick[i] = picked_[i].get();
  picker_empty_ = pick.empty();
  absl::Status empty_status;
  uint64_t start = 0;
  if (picker_empty_) {
    empty_status = absl::UnavailableError(absl::StrCat(
        "kube-grpc: no endpoint to call for Service ", service_name_, ": ", EmptyReasonLocked()));
  } else {
    // Start at a random index so that many clients do not all begin on one pod.
    start = rng_();
  }
  // The endpoints that left since the last picker stay alive while it does.
  auto link = std::make_shared<PickerLink>();
  if (link_ != nullptr) {
    link_->retired = std::move(leaving_);
    link_->next = link;
  }
  leaving_.clear();
  link_ = link;
  picker_.Update(std::make_unique<Picker>(std::move(pick), std::move(link), start,
                                          std::move(empty_status), policy_));
}

bool ChannelPool::WaitForReady(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutdown_ || eligible_.ready > 0; };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  return eligible_.ready > 0 && !shutdown_;
}

std::vector<EndpointSnapshot> ChannelPool::Snapshot() const {
  // In batches, so that a large pool's snapshot holds up updates for a batch at
  // a time, never for the whole walk (picks never wait for it). Each endpoint
  // is consistent; the list as a whole is each batch's view.
  constexpr size_t kBatch = 512;
  std::vector<EndpointSnapshot> out;
  std::string after;  // the last key copied
  for (bool first = true;; first = false) {
    absl::MutexLock lock(&mu_);
    if (first) out.reserve(entries_.size());
    auto it = first ? entries_.begin() : entries_.upper_bound(after);
    for (size_t n = 0; it != entries_.end() && n < kBatch; ++it, ++n) {
      const Entry& e = *it->second;
      EndpointSnapshot s;
      s.host_port = it->first;
      s.pod_name = e.info.pod_name;
      s.zone = e.info.zone;
      s.local = e.local;
      s.state = e.state;
      s.healthy = e.healthy;
      s.draining = e.draining;
      s.picked = InPickerLocked(e);
      s.ejected = e.ejected;
      if (e.ejected) {
        s.ejected_until = e.ejected_until;
        s.ejection_reason = e.ejection_reason;
      }
      s.ejections = e.ejections;
      s.ejections_total = e.ejections_total;
      const CallCounters& calls = e.endpoint->calls();
      s.picks = calls.picks();
      s.calls = calls.finished();
      s.failures = calls.failures();
      s.in_flight = calls.in_flight();
      if (s.calls > 0) s.mean_latency = calls.total_latency() / s.calls;
      for (int c = 0; c < CallCounters::kCodes; ++c) {
        s.calls_by_code[c] = calls.finished_with(static_cast<grpc::StatusCode>(c));
      }
      s.last_failure_code = static_cast<int>(calls.last_failure_code());
      s.last_failure_at = calls.last_failure_at();
      out.push_back(std::move(s));
    }
    if (it == entries_.end()) return out;
    after = out.back().host_port;
  }
}

CallCounters::Rules ChannelPool::CallRulesFor(const std::string& key) {
  CallCounters::Rules rules;
  if (!outlier_.enabled) return rules;
  rules.failure_codes = failure_mask_;
  rules.consecutive_failures = outlier_.consecutive_failures;
  // From the call's thread: reaches the pool only while it is up.
  std::weak_ptr<Gate> weak = gate_;
  rules.on_streak = [weak, key](const CallCounters& calls) {
    std::shared_ptr<Gate> gate = weak.lock();
    if (gate == nullptr) return;
    absl::MutexLock lock(&gate->mu);
    if (gate->pool != nullptr) gate->pool->OnFailureStreak(key, &calls);
  };
  return rules;
}

void ChannelPool::OnFailureStreak(const std::string& key, const CallCounters* calls) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = *it->second;
  if (e.ejected || e.draining) return;
  if (&e.endpoint->calls() != calls) return;  // an older channel to the same address
  if (TryEjectLocked(e, clock_->Now(),
                     absl::StrCat(outlier_.consecutive_failures, " calls in a row failed"))) {
    RebuildLocked();
  }
}

bool ChannelPool::TryEjectLocked(Entry& e, absl::Time now, std::string reason) {
  const size_t live = entries_.size() - draining_.size();
  if (!internal::MayEject(ejected_.size(), live, outlier_.max_ejection_percent)) return false;
  // Never the last READY endpoint to pick: ejections alone never empty a pool
  // (a lone pod that failed a few calls would be cut off for its whole
  // ejection time; Envoy's panic threshold serves the same end).
  if (e.eligible() && e.state == ChannelState::kReady && eligible_.ready <= 1) return false;
  ++e.ejections;
  ++e.ejections_total;
  e.ejected_until = now + internal::EjectionTime(outlier_, e.ejections);
  e.ejection_reason = std::move(reason);
  Flags f = FlagsOf(e);
  f.ejected = true;
  EventLocked(
      BalancerEvent::Kind::kEndpointEjected, e,
      absl::StrCat(e.ejection_reason, "; out for ", absl::FormatDuration(e.ejected_until - now)),
      now);
  return UpdateLocked(e, f);
}

void ChannelPool::EventLocked(BalancerEvent::Kind kind, const Entry& e, std::string detail,
                              absl::Time now) {
  if (!events_) return;
  BalancerEvent event;
  event.kind = kind;
  event.service = service_name_;
  event.address = e.endpoint->host_port();
  event.pod = e.info.pod_name;
  event.detail = std::move(detail);
  event.time = now;
  events_(std::move(event));
}

bool ChannelPool::OutlierMaintenanceLocked(absl::Time now) {
  if (!outlier_.enabled) return false;
  bool changed = false;
  // Back from ejection: O(ejected).
  std::vector<Entry*> due;
  for (const std::string& key : ejected_) {
    auto it = entries_.find(key);
    if (it != entries_.end() && now >= it->second->ejected_until) due.push_back(it->second.get());
  }
  for (Entry* e : due) {  // UpdateLocked erases their keys
    e->endpoint->calls().ResetStreak();
    e->endpoint->calls().TakeInterval();  // what it did before its ejection is past
    Flags f = FlagsOf(*e);
    f.ejected = false;
    changed |= UpdateLocked(*e, f);
    EventLocked(BalancerEvent::Kind::kEndpointReturned, *e, "its ejection time is over", now);
  }
  if (now < next_outlier_pass_) return changed;
  const bool first = next_outlier_pass_ == absl::InfinitePast();
  next_outlier_pass_ = now + outlier_.interval;
  if (first) return changed;  // an interval starts now
  // The interval's rules: O(n) once per interval.
  std::vector<Entry*> live;
  std::vector<CallCounters::Interval> counts;
  live.reserve(entries_.size());
  counts.reserve(entries_.size());
  for (auto& [key, e] : entries_) {
    CallCounters::Interval c = e->endpoint->calls().TakeInterval();
    if (e->draining || e->ejected) continue;
    // A50: an endpoint that was not ejected in an interval pays one ejection back.
    if (e->ejections > 0) --e->ejections;
    live.push_back(e.get());
    counts.push_back(c);
  }
  auto enforce = [&](const std::vector<size_t>& outliers, int enforcement_percentage,
                     const char* rule) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (size_t i : outliers) {
      Entry& e = *live[i];
      if (e.ejected) continue;
      if (static_cast<int>(rng_() % 100) >= enforcement_percentage) continue;
      const CallCounters::Interval& c = counts[i];
      std::string reason =
          absl::StrCat(rule, ": ", c.successes, " of ", c.successes + c.failures,
                       " calls succeeded in the last ", absl::FormatDuration(outlier_.interval));
      changed |= TryEjectLocked(e, now, std::move(reason));  // within max_ejection_percent
    }
  };
  if (outlier_.success_rate.has_value()) {
    enforce(internal::SuccessRateOutliers(counts, *outlier_.success_rate),
            outlier_.success_rate->enforcement_percentage, "success rate far below the others'");
  }
  if (outlier_.failure_percentage.has_value()) {
    enforce(internal::FailurePercentageOutliers(counts, *outlier_.failure_percentage),
            outlier_.failure_percentage->enforcement_percentage, "failure percentage");
  }
  return changed;
}

void ChannelPool::RunMaintenance() {
  std::vector<std::shared_ptr<PoolEndpoint>> due;
  std::vector<std::unique_ptr<Entry>> released;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    const absl::Time now = clock_->Now();
    for (auto key = draining_.begin(); key != draining_.end();) {
      auto it = entries_.find(*key);
      if (it == entries_.end()) {  // cannot happen: entries leave entries_ here or in Shutdown
        key = draining_.erase(key);
        continue;
      }
      Entry& e = *it->second;
      if (e.endpoint->calls().in_flight() == 0 || now >= e.drain_deadline) {
        SetPickedLocked(e, false);  // never picked while draining; kept exact regardless
        released.push_back(std::move(it->second));  // not eligible: no count to undo
        entries_.erase(it);
        key = draining_.erase(key);
      } else {
        ++key;
      }
    }
    if (OutlierMaintenanceLocked(now)) RebuildLocked();
    if (health_on_ && now >= next_health_check_) {
      next_health_check_ = now + health_interval_;
      for (const auto& [key, e] : entries_) {
        if (!e->draining) due.push_back(e->endpoint);
      }
    }
  }
  for (const auto& e : released) e->subchannel->Shutdown();
  // Custom checks past their deadline take their endpoint out now, without
  // waiting for them to return.
  checker_.ReportOverdue();
  if (!due.empty()) checker_.Check(due);
}

void ChannelPool::WorkerLoop() {
  while (!stop_worker_.cancelled()) {
    RunMaintenance();
    // Often enough for drains and health intervals; cheap when idle.
    clock_->SleepUntil(clock_->Now() + absl::Milliseconds(100), &stop_worker_);
  }
}

}  // namespace kubegrpc
