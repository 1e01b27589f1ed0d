#include "kubegrpc/balancer.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kubegrpc/channel_pool.h"
#include "kubegrpc/http_k8s_client.h"
#include "kubegrpc/internal/backoff.h"
#include "kubegrpc/internal/event_queue.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/subchannel.h"

namespace kubegrpc {
namespace internal {

// One Service's pool, fed by its subscription to the registry; shared by the
// Service's handles.
class ServiceChannels : public ServiceRegistry::Subscriber {
 public:
  // `events` (may be null) receives the pool's and discovery's events.
  ServiceChannels(ServiceTarget target, SubchannelFactory* factory, const PoolOptions& options,
                  EventQueue* events)
      : target_(std::move(target)),
        events_(events),
        pool_(target_.ToString(), factory, options,
              events != nullptr ? std::function<void(BalancerEvent)>(
                                      [events](BalancerEvent e) { events->Post(std::move(e)); })
                                : nullptr) {}

  void OnEndpoints(const std::shared_ptr<const EndpointSet>& set,
                   const EndpointDelta& delta) override {
    pool_.Apply(set, &delta);
  }
  void OnDiscoveryStatus(const DiscoveryStatus& status) override {
    pool_.SetDiscoveryStatus(status);
    if (events_ == nullptr) return;
    absl::MutexLock lock(&mu_);
    if (status.errors > errors_seen_) {
      errors_seen_ = status.errors;
      erroring_ = true;
      BalancerEvent e;
      e.kind = BalancerEvent::Kind::kDiscoveryError;
      e.service = target_.ToString();
      e.detail = std::string(status.last_error.message());
      e.time = status.last_error_at;
      events_->Post(std::move(e));
    } else if (erroring_ && status.last_success_at > status.last_error_at) {
      erroring_ = false;
      BalancerEvent e;
      e.kind = BalancerEvent::Kind::kDiscoveryRecovered;
      e.service = target_.ToString();
      e.detail = absl::StrCat("after ", status.errors, " errors in all");
      e.time = status.last_success_at;
      events_->Post(std::move(e));
    }
  }

  void Subscribe(ServiceRegistry& registry) ABSL_LOCKS_EXCLUDED(mu_) {
    std::unique_ptr<ServiceRegistry::Subscription> sub = registry.Subscribe(target_, this);
    absl::MutexLock lock(&mu_);
    subscription_ = std::move(sub);
  }
  // Stops discovery (if nobody else follows the Service) and the pool.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_) {
    std::unique_ptr<ServiceRegistry::Subscription> sub;
    {
      absl::MutexLock lock(&mu_);
      sub.swap(subscription_);
    }
    sub.reset();  // no callback into the pool after this
    pool_.Shutdown();
  }
  DiscoveryStatus discovery_status() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return subscription_ != nullptr ? subscription_->status() : DiscoveryStatus();
  }
  std::shared_ptr<const EndpointSet> endpoint_set() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return subscription_ != nullptr ? subscription_->current() : nullptr;
  }

  const ServiceTarget& target() const { return target_; }
  ChannelPool& pool() { return pool_; }

 private:
  const ServiceTarget target_;
  EventQueue* const events_;
  ChannelPool pool_;
  mutable absl::Mutex mu_;
  std::unique_ptr<ServiceRegistry::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  int64_t errors_seen_ ABSL_GUARDED_BY(mu_) = 0;  // discovery errors already reported
  bool erroring_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace internal

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelHandle::Next() const {
  if (service_ == nullptr) {
    return absl::FailedPreconditionError("kube-grpc: Next() on an empty ChannelHandle");
  }
  return service_->pool().WithPick(
      [](PoolEndpoint* e,
         const absl::Status& empty) -> absl::StatusOr<std::shared_ptr<grpc::Channel>> {
        if (e == nullptr) return empty;
        return e->channel();
      });
}

absl::StatusOr<std::shared_ptr<PoolEndpoint>> ChannelHandle::NextEndpoint(
    const std::vector<const PoolEndpoint*>& avoid) const {
  if (service_ == nullptr) {
    return absl::FailedPreconditionError("kube-grpc: Next() on an empty ChannelHandle");
  }
  return service_->pool().WithPickAvoiding(
      avoid,
      [](PoolEndpoint* e,
         const absl::Status& empty) -> absl::StatusOr<std::shared_ptr<PoolEndpoint>> {
        if (e == nullptr) return empty;
        return e->shared_from_this();
      });
}

const ServiceTarget& ChannelHandle::target() const {
  static const ServiceTarget* const kNone = new ServiceTarget();
  return service_ != nullptr ? service_->target() : *kNone;
}

Balancer::Balancer(std::shared_ptr<K8sClient> client, std::string default_namespace,
                   BalancerOptions options)
    : client_(std::move(client)),
      default_namespace_(std::move(default_namespace)),
      options_(std::move(options)),
      events_(options_.on_event ? std::make_unique<internal::EventQueue>(options_.on_event)
                                : nullptr),
      registry_(ServiceRegistry::Create(client_, options_.discovery)) {
  factory_ = options_.subchannel_factory;
  if (factory_ == nullptr) {
    factory_ = std::make_shared<GrpcSubchannelFactory>(
        options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
        options_.channel_args);
  }
  // The client's zone: as told, else KUBEGRPC_ZONE, else NODE_NAME's node
  // label (read in the background: Create never waits for the API).
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v != nullptr ? v : "");
  };
  std::string zone = options_.pool.zone;
  std::string source = "PoolOptions::zone";
  if (zone.empty()) {
    zone = env("KUBEGRPC_ZONE");
    source = "KUBEGRPC_ZONE";
  }
  if (!zone.empty()) {
    {
      absl::MutexLock lock(&mu_);
      zone_ = zone;
    }
    ZoneEvent(absl::StrCat("zone ", zone, " (from ", source, ")"));
    return;
  }
  const std::string node = env("NODE_NAME");
  if (node.empty()) return;  // no zone: picks ignore zones
  zone_thread_ = std::thread([this, node] { ResolveZone(node); });
}

void Balancer::ZoneEvent(std::string detail) {
  if (events_ == nullptr) return;
  BalancerEvent e;
  e.kind = BalancerEvent::Kind::kClientZone;
  e.detail = std::move(detail);
  Clock* clock = options_.discovery.clock != nullptr ? options_.discovery.clock : RealClock();
  e.time = clock->Now();
  events_->Post(std::move(e));
}

void Balancer::ResolveZone(const std::string& node) {
  Clock* clock = options_.discovery.clock != nullptr ? options_.discovery.clock : RealClock();
  internal::Backoff backoff(options_.discovery.backoff, std::hash<std::string>()(node));
  while (!stop_zone_.cancelled()) {
    absl::StatusOr<std::string> zone = client_->GetNodeZone(node, &stop_zone_);
    if (stop_zone_.cancelled()) return;
    if (zone.ok() && zone->empty()) {
      ZoneEvent(absl::StrCat("unknown: Node ", node,
                             " (NODE_NAME) has no topology.kubernetes.io/zone label; picks "
                             "ignore zones"));
      return;
    }
    if (zone.ok()) {
      std::vector<std::shared_ptr<internal::ServiceChannels>> services;
      {
        absl::MutexLock lock(&mu_);
        if (shutdown_) return;
        zone_ = *zone;
        for (const auto& [key, s] : services_) services.push_back(s);
      }
      for (const auto& s : services) s->pool().SetZone(*zone);
      ZoneEvent(absl::StrCat("zone ", *zone, " (from Node ", node, "'s label, NODE_NAME)"));
      return;
    }
    const absl::StatusCode code = zone.status().code();
    const bool may_pass =
        code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted ||
        code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kInternal;
    ZoneEvent(absl::StrCat("unknown: ", zone.status().message(),
                           may_pass ? "; retrying" : "; picks ignore zones"));
    if (!may_pass) return;  // RBAC (no get on nodes), no such Node: it will not change
    absl::Duration delay = backoff.Next();
    if (std::optional<absl::Duration> after = RetryAfter(zone.status())) {
      delay = std::max(delay, *after);
    }
    clock->SleepUntil(clock->Now() + delay, &stop_zone_);
  }
}

absl::StatusOr<std::unique_ptr<Balancer>> Balancer::Create(BalancerOptions options) {
  absl::StatusOr<ClusterConfig> config = DefaultConfig();
  if (!config.ok()) return config.status();
  return Create(*config, std::move(options));
}

absl::StatusOr<std::unique_ptr<Balancer>> Balancer::Create(const ClusterConfig& config,
                                                           BalancerOptions options) {
  absl::StatusOr<std::unique_ptr<HttpK8sClient>> client = HttpK8sClient::Create(config);
  if (!client.ok()) return client.status();
  return Create(std::shared_ptr<K8sClient>(*std::move(client)), config.ns, std::move(options));
}

absl::StatusOr<std::unique_ptr<Balancer>> Balancer::Create(std::shared_ptr<K8sClient> client,
                                                           std::string default_namespace,
                                                           BalancerOptions options) {
  if (client == nullptr) return absl::InvalidArgumentError("kube-grpc: no Kubernetes client");
  if (absl::Status s = ValidateOutlierDetection(options.pool.outlier_detection); !s.ok()) return s;
  if (default_namespace.empty()) default_namespace = "default";
  return std::unique_ptr<Balancer>(
      new Balancer(std::move(client), std::move(default_namespace), std::move(options)));
}

Balancer::~Balancer() { Shutdown(); }

absl::StatusOr<ChannelHandle> Balancer::Connect(absl::string_view target_text) {
  absl::StatusOr<ServiceTarget> target = ParseTarget(target_text);
  if (!target.ok()) return target.status();
  if (target->ns.empty()) target->ns = default_namespace_;
  const std::string key = target->ToString();

  absl::MutexLock lock(&mu_);
  if (shutdown_) {
    return absl::FailedPreconditionError(
        absl::StrCat("kube-grpc: Connect(\"", target_text, "\") after the Balancer shut down"));
  }
  auto it = services_.find(key);
  if (it != services_.end()) return ChannelHandle(it->second);
  // First use of this Service: its pool, fed by the registry's discovery.
  PoolOptions pool = options_.pool;
  pool.zone = zone_;
  auto service =
      std::make_shared<internal::ServiceChannels>(*target, factory_.get(), pool, events_.get());
  service->Subscribe(*registry_);
  services_.emplace(key, service);
  return ChannelHandle(std::move(service));
}

absl::Status Balancer::WaitForReady(absl::string_view target, absl::Time deadline) {
  absl::StatusOr<ChannelHandle> handle = Connect(target);
  if (!handle.ok()) return handle.status();
  ChannelPool& pool = handle->service_->pool();
  if (pool.WaitForReady(deadline)) return absl::OkStatus();
  absl::Status why = pool.EmptyStatus();
  std::string detail;
  if (why.ok()) {
    // Endpoints to call, none READY: say what their channels are doing.
    int connecting = 0, failing = 0;
    for (const EndpointSnapshot& e : pool.Snapshot()) {
      if (!e.picked) continue;
      (e.state == ChannelState::kTransientFailure ? failing : connecting) += 1;
    }
    detail = failing > 0 && connecting == 0
                 ? absl::StrCat(" (none of its ", failing,
                                " endpoints accepts connections: TRANSIENT_FAILURE)")
                 : " (its channels are still connecting)";
  } else {
    detail = absl::StrCat(": ", why.message());
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "kube-grpc: Service ", handle->target().ToString(), " has no READY endpoint yet", detail));
}

absl::Status Balancer::SetHealthCheck(absl::string_view target,
                                      std::function<absl::Status(PoolEndpoint&, absl::Time)> ping,
                                      const void* once_key) {
  absl::StatusOr<ChannelHandle> handle = Connect(target);
  if (!handle.ok()) return handle.status();
  HealthCheckOptions health = options_.pool.health;
  health.mode = HealthCheckOptions::Mode::kCustom;
  health.ping = std::move(ping);
  handle->service_->pool().SetHealthCheck(std::move(health), once_key);
  return absl::OkStatus();
}

std::vector<ServiceSnapshot> Balancer::Snapshot() const {
  std::vector<std::shared_ptr<internal::ServiceChannels>> services;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, s] : services_) services.push_back(s);
  }
  std::vector<ServiceSnapshot> out;
  for (const auto& s : services) {
    ServiceSnapshot snapshot;
    snapshot.service = s->target().ToString();
    snapshot.discovery = s->discovery_status();
    snapshot.endpoints = s->pool().Snapshot();
    snapshot.pool_status = s->pool().status();
    snapshot.zone = s->pool().zone_routing();
    snapshot.endpoint_set = s->endpoint_set();
    out.push_back(std::move(snapshot));
  }
  return out;
}

void Balancer::Shutdown() {
  stop_zone_.Cancel();
  std::map<std::string, std::shared_ptr<internal::ServiceChannels>> services;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    services.swap(services_);
  }
  if (zone_thread_.joinable()) zone_thread_.join();
  // Handles keep the (empty, shut down) pools alive.
  for (auto& [key, s] : services) s->Shutdown();
}

}  // namespace kubegrpc
