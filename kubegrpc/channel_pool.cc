#include "kubegrpc/channel_pool.h"

#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kubegrpc/internal/tsan.h"
#include "kubegrpc/proto/health.grpc.pb.h"

namespace kubegrpc {

namespace {

// The user's custom check; an exception counts as a failure.
absl::Status RunUserCheck(
    const std::function<absl::Status(PoolEndpoint&, absl::Time)>& ping, PoolEndpoint& e,
    absl::Time deadline) {
  try {
    return ping ? ping(e, deadline) : absl::OkStatus();
  } catch (const std::exception& ex) {
    return absl::InternalError(absl::StrCat("health check threw: ", ex.what()));
  } catch (...) {
    return absl::InternalError("health check threw");
  }
}

}  // namespace

// --- PoolEndpoint ------------------------------------------------------------------

int PoolEndpoint::NextCacheSlot() {
  static std::atomic<int> next{0};
  return next.fetch_add(1);
}

PoolEndpoint::PoolEndpoint(Endpoint endpoint, std::unique_ptr<Subchannel> subchannel)
    : host_port_(endpoint.HostPort()),
      endpoint_(std::move(endpoint)),
      subchannel_(std::move(subchannel)),
      channel_(subchannel_->channel()) {}

PoolEndpoint::~PoolEndpoint() {
  subchannel_->Shutdown();
  for (int i = 0; i < kCacheSlots; ++i) {
    void* p = cache_[i].load();
    if (p != nullptr && cache_deleters_[i] != nullptr) cache_deleters_[i](p);
  }
}

// --- ChannelPool -------------------------------------------------------------------

ChannelPool::ChannelPool(std::string service_name, SubchannelFactory* factory,
                         PoolOptions options, std::function<std::string()> why_empty)
    : service_name_(std::move(service_name)),
      factory_(factory),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      start_worker_(options.start_worker),
      why_empty_(std::move(why_empty)),
      picker_(std::make_unique<Picker>(std::vector<std::shared_ptr<PoolEndpoint>>(), 0,
                                       service_name_,
                                       why_empty_ ? "" : "not discovered yet", why_empty_)),
      options_(options),
      rng_(options.seed) {
  {
    absl::MutexLock lock(&mu_);
    picked_reason_ = why_empty_ ? "" : "not discovered yet";  // the initial picker's
  }
  if (start_worker_) worker_ = std::thread([this] { WorkerLoop(); });
}

ChannelPool::~ChannelPool() { Shutdown(); }

void ChannelPool::Shutdown() {
  stop_worker_.Cancel();
  if (worker_.joinable()) worker_.join();
  {
    // Custom checks still running get until their timeout, then are abandoned:
    // from here on they report nothing.
    absl::Duration timeout;
    {
      absl::MutexLock lock(&mu_);
      timeout = options_.health.timeout;
    }
    CheckThreads& threads = *check_threads_;
    absl::MutexLock lock(&threads.mu);
    auto done = [&threads]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(threads.mu) {
      return threads.running == 0;
    };
    threads.mu.AwaitWithTimeout(absl::Condition(&done), timeout);
    threads.pool = nullptr;
  }
  absl::btree_map<std::string, std::shared_ptr<PoolEndpoint>> released;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    released.swap(endpoints_);
    RebuildLocked();
    // Health-check answers call back into the pool: wait for those in flight
    // (each has a deadline).
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_checks_ == 0; };
    mu_.Await(absl::Condition(&idle));
  }
  for (auto& [key, e] : released) e->subchannel_->Shutdown();
}

void ChannelPool::Apply(const std::shared_ptr<const EndpointSet>& set,
                        const EndpointDelta* delta) {
  std::vector<std::shared_ptr<PoolEndpoint>> created;
  std::vector<std::shared_ptr<PoolEndpoint>> returned;  // drained, now wanted again
  bool have_set_before = false;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    const absl::Time now = clock_->Now();
    auto drain = [&](PoolEndpoint& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (!entry.draining_) {
        entry.draining_ = true;
        entry.drain_deadline_ = now + options_.drain_grace;
      }
    };
    auto want = [&](const std::string& key, const Endpoint& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = endpoints_.find(key);
      if (it == endpoints_.end()) {
        auto entry = std::make_shared<PoolEndpoint>(e, factory_->Create(e));
        endpoints_.emplace(key, entry);
        created.push_back(std::move(entry));
        return;
      }
      PoolEndpoint& entry = *it->second;
      if (entry.draining_) {
        entry.draining_ = false;  // back (a flapping pod): no new channel needed
        returned.push_back(it->second);
      }
      if (entry.endpoint_ != e) entry.endpoint_ = e;
    };
    have_set_before = have_set_;
    if (delta != nullptr && have_set_) {
      for (const Endpoint& e : delta->removed) {
        auto it = endpoints_.find(e.HostPort());
        if (it != endpoints_.end()) drain(*it->second);
      }
      for (const Endpoint& e : delta->added) want(e.HostPort(), e);
      for (const Endpoint& e : delta->changed) want(e.HostPort(), e);
    } else {
      std::map<std::string, const Endpoint*> wanted;
      for (const Endpoint& e : set->usable()) wanted.emplace(e.HostPort(), &e);
      for (auto& [key, entry] : endpoints_) {
        if (wanted.count(key) == 0) drain(*entry);
      }
      for (const auto& [key, e] : wanted) want(key, *e);
    }
    have_set_ = true;
    RebuildLocked();
  }
  for (const std::shared_ptr<PoolEndpoint>& e : returned) e->subchannel_->ResetBackoff();
  if (created.empty()) return;
  // Connect outside the lock; later changes come back through OnStateChange.
  for (const std::shared_ptr<PoolEndpoint>& e : created) {
    std::weak_ptr<PoolEndpoint> weak = e;
    e->subchannel_->Start([this, weak](ChannelState state) {
      if (std::shared_ptr<PoolEndpoint> alive = weak.lock()) OnStateChange(alive.get(), state);
    });
    // gRPC shares connections between channels to the same address: a pod that
    // comes back on an address whose old channel was released may find that
    // connection waiting out a reconnect backoff. The API says it is ready.
    if (have_set_before) e->subchannel_->ResetBackoff();
  }
  // The new endpoints' first states, in one picker update.
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<PoolEndpoint>& e : created) {
    e->state_.store(e->subchannel_->state(), std::memory_order_relaxed);
  }
  if (!shutdown_) RebuildLocked();
}

void ChannelPool::OnStateChange(PoolEndpoint* e, ChannelState state) {
  absl::MutexLock lock(&mu_);
  e->state_.store(state, std::memory_order_relaxed);
  if (!shutdown_) RebuildLocked();
}

void ChannelPool::FinishCheck(PoolEndpoint* e, bool healthy) {
  absl::MutexLock lock(&mu_);
  e->check_running_ = false;
  if (shutdown_) return;
  // An answer after the deadline counts as a failure (the endpoint is too slow).
  if (clock_->Now() > e->check_deadline_) healthy = false;
  if (e->healthy_.exchange(healthy) != healthy) RebuildLocked();
}

void ChannelPool::SetHealthy(PoolEndpoint* e, bool healthy) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  if (e->healthy_.exchange(healthy) != healthy) RebuildLocked();
}

void ChannelPool::SetHealthCheck(HealthCheckOptions health) {
  absl::MutexLock lock(&mu_);
  const bool off = health.mode == HealthCheckOptions::Mode::kNone;
  options_.health = std::move(health);
  next_health_check_ = absl::InfinitePast();  // check soon
  if (off) {
    for (auto& [key, e] : endpoints_) e->healthy_.store(true);
    RebuildLocked();
  }
}

void ChannelPool::SetHealthCheckOnce(const void* key, HealthCheckOptions health) {
  {
    absl::MutexLock lock(&mu_);
    if (health_key_ == key) return;
    health_key_ = key;
  }
  SetHealthCheck(std::move(health));
}

HealthCheckOptions ChannelPool::health_check() const {
  absl::MutexLock lock(&mu_);
  return options_.health;
}

absl::Status Picker::EmptyStatus() const {
  if (!endpoints_.empty()) return absl::OkStatus();
  std::string why = reason_;
  if (why.empty()) why = why_empty_ ? why_empty_() : "no ready endpoints";
  return absl::UnavailableError(
      absl::StrCat("kube-grpc: no endpoint to call for Service ", service_, ": ", why));
}

std::string ChannelPool::EmptyReasonLocked(size_t unhealthy) const {
  if (shutdown_) return "the balancer is shut down";
  if (unhealthy > 0) return absl::StrCat("none of its ", unhealthy, " endpoints passes health checks");
  if (!why_empty_) return have_set_ ? "no ready endpoints" : "not discovered yet";
  return "";
}

void ChannelPool::RebuildLocked() {
  // Which endpoints to pick from, as raw pointers first: most rebuilds change
  // nothing, and a large pool should not pay reference-count traffic for that.
  std::vector<PoolEndpoint*> candidates;
  candidates.reserve(endpoints_.size());
  size_t unhealthy = 0;
  for (const auto& [key, e] : endpoints_) {
    if (e->draining_) continue;
    if (!e->healthy_.load()) {
      ++unhealthy;
      continue;
    }
    candidates.push_back(e.get());
  }
  std::vector<PoolEndpoint*> raw;
  raw.reserve(candidates.size());
  for (PoolEndpoint* e : candidates) {
    if (e->state() == ChannelState::kReady) raw.push_back(e);
  }
  if (raw.empty()) {
    for (PoolEndpoint* e : candidates) {
      if (e->state() != ChannelState::kTransientFailure) raw.push_back(e);
    }
  }
  if (raw.empty()) raw = candidates;
  const bool empty = raw.empty();
  std::string reason = empty ? EmptyReasonLocked(unhealthy) : "";
  // Same endpoints and the same reason when empty: the current picker stands.
  if (raw == picked_ && reason == picked_reason_) return;
  std::vector<std::shared_ptr<PoolEndpoint>> pick;
  pick.reserve(raw.size());
  for (PoolEndpoint* e : raw) pick.push_back(e->shared_from_this());
  picked_ = std::move(raw);
  picked_reason_ = reason;
  // Start at a random index so that many clients do not all begin on one pod.
  const uint64_t start = empty ? 0 : rng_();
  picker_.Update(std::make_unique<Picker>(std::move(pick), start, service_name_,
                                          std::move(reason), why_empty_));
}

bool ChannelPool::WaitForReady(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (shutdown_) return true;
    for (PoolEndpoint* e : picked_) {
      if (e->state() == ChannelState::kReady) return true;
    }
    return false;
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  return ready() && !shutdown_;
}

std::vector<EndpointSnapshot> ChannelPool::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<EndpointSnapshot> out;
  for (const auto& [key, e] : endpoints_) {
    out.push_back({key, e->endpoint_.pod_name, e->endpoint_.zone, e->state(), e->healthy(),
                   e->draining_,
                   std::find(picked_.begin(), picked_.end(), e.get()) != picked_.end(),
                   e->picks.load(), e->failures.load(), e->in_flight.load()});
  }
  return out;
}

void ChannelPool::RunMaintenance() {
  std::vector<std::shared_ptr<PoolEndpoint>> due;
  std::vector<std::shared_ptr<PoolEndpoint>> released;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    const absl::Time now = clock_->Now();
    for (auto it = endpoints_.begin(); it != endpoints_.end();) {
      PoolEndpoint& e = *it->second;
      if (e.draining_ && (e.in_flight.load() == 0 || now >= e.drain_deadline_)) {
        released.push_back(it->second);
        it = endpoints_.erase(it);
      } else {
        ++it;
      }
    }
    // Custom checks past their deadline take their endpoint out now, without
    // waiting for them to return.
    bool overdue = false;
    for (const auto& [key, e] : endpoints_) {
      if (e->check_running_ && now > e->check_deadline_ && e->healthy_.exchange(false)) {
        overdue = true;
      }
    }
    if (!released.empty() || overdue) RebuildLocked();
    if (options_.health.mode != HealthCheckOptions::Mode::kNone && now >= next_health_check_) {
      next_health_check_ = now + options_.health.interval;
      for (const auto& [key, e] : endpoints_) {
        if (!e->draining_) due.push_back(e);
      }
    }
  }
  for (const auto& e : released) e->subchannel_->Shutdown();
  if (!due.empty()) StartHealthChecks(due);
}

void ChannelPool::StartHealthChecks(const std::vector<std::shared_ptr<PoolEndpoint>>& due) {
  HealthCheckOptions health;
  {
    absl::MutexLock lock(&mu_);
    health = options_.health;
  }
  const absl::Time deadline = clock_->Now() + health.timeout;
  if (health.mode == HealthCheckOptions::Mode::kCustom) {
    if (!start_worker_) {
      // Virtual time: inline, one endpoint at a time, never under a lock.
      for (const auto& e : due) SetHealthy(e.get(), RunUserCheck(health.ping, *e, deadline).ok());
      return;
    }
    // Real time: a thread per check, so a check that hangs holds up nothing.
    for (const auto& e : due) {
      {
        absl::MutexLock lock(&mu_);
        if (shutdown_) return;
        if (e->check_running_) continue;  // the last one has not returned
        e->check_running_ = true;
        e->check_deadline_ = deadline;
      }
      {
        absl::MutexLock lock(&check_threads_->mu);
        check_threads_->pool = this;
        ++check_threads_->running;
      }
      try {
        std::thread([threads = check_threads_, ping = health.ping, e, deadline] {
          const bool ok = RunUserCheck(ping, *e, deadline).ok();
          absl::MutexLock lock(&threads->mu);
          if (threads->pool != nullptr) threads->pool->FinishCheck(e.get(), ok);
          --threads->running;
        }).detach();
      } catch (const std::system_error&) {
        // No thread to be had (a process limit): the check counts as failed,
        // and the next interval tries again.
        {
          absl::MutexLock lock(&check_threads_->mu);
          --check_threads_->running;
        }
        FinishCheck(e.get(), false);
      }
    }
    return;
  }
  // grpc.health.v1 Check, asynchronously: answers arrive on gRPC's threads.
  for (const auto& e : due) {
    if (e->channel() == nullptr) continue;
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return;
      ++outstanding_checks_;
    }
    struct Call {
      std::shared_ptr<PoolEndpoint> endpoint;
      std::unique_ptr<grpc::health::v1::Health::Stub> stub;
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
    };
    auto* call = new Call;
    call->endpoint = e;
    call->stub = grpc::health::v1::Health::NewStub(e->channel());
    call->context.set_deadline(absl::ToChronoTime(deadline));
    call->request.set_service(health.service);
    internal::TsanHandOff(call);  // the callback runs on a gRPC thread
    call->stub->async()->Check(&call->context, &call->request, &call->response,
                               [this, call](grpc::Status status) {
                                 internal::TsanTakeOver(call);
                                 // A server without the health service counts as healthy
                                 // (as gRPC's own client-side health checking does).
                                 const bool healthy =
                                     (status.ok() && call->response.status() ==
                                                         grpc::health::v1::HealthCheckResponse::SERVING) ||
                                     status.error_code() == grpc::StatusCode::UNIMPLEMENTED;
                                 SetHealthy(call->endpoint.get(), healthy);
                                 delete call;
                                 absl::MutexLock lock(&mu_);
                                 --outstanding_checks_;
                               });
  }
}

void ChannelPool::WorkerLoop() {
  while (!stop_worker_.cancelled()) {
    RunMaintenance();
    // Often enough for drains and health intervals; cheap when idle.
    clock_->SleepUntil(clock_->Now() + absl::Milliseconds(100), &stop_worker_);
  }
}

}  // namespace kubegrpc
