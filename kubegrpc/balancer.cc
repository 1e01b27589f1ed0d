#include "kubegrpc/balancer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "kubegrpc/http_k8s_client.h"

namespace kubegrpc {

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelHandle::Next() const {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError("kube-grpc: Next() on an empty ChannelHandle");
  }
  return state_->pool->WithPick(
      [](PoolEndpoint* e, const absl::Status& empty)
          -> absl::StatusOr<std::shared_ptr<grpc::Channel>> {
        if (e == nullptr) return empty;
        return e->channel();
      });
}

Balancer::Balancer(std::shared_ptr<K8sClient> client, std::string default_namespace,
                   BalancerOptions options)
    : client_(std::move(client)),
      default_namespace_(std::move(default_namespace)),
      options_(std::move(options)) {
  factory_ = options_.subchannel_factory;
  if (factory_ == nullptr) {
    factory_ = std::make_shared<GrpcSubchannelFactory>(
        options_.credentials != nullptr ? options_.credentials
                                        : grpc::InsecureChannelCredentials(),
        options_.channel_args);
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

  // First use of this Service: one discovery and one pool, whoever asks next.
  auto state = std::make_shared<internal::ServiceState>();
  state->target = *target;
  state->name = key;
  internal::ServiceState* raw = state.get();
  state->pool = std::make_unique<ChannelPool>(
      key, factory_.get(), options_.pool, [raw]() -> std::string {
        if (raw->discovery == nullptr) return "not discovered yet";
        DiscoveryStatus status = raw->discovery->status();
        std::shared_ptr<const EndpointSet> set = raw->discovery->current();
        if (!status.synced) {
          return status.last_error.ok()
                     ? "waiting for the first answer from the Kubernetes API"
                     : absl::StrCat("discovery has not succeeded since start-up; last error: ",
                                    status.last_error.message());
        }
        if (set == nullptr || set->all().empty()) return "the Service has no endpoints";
        if (set->usable().empty()) {
          return absl::StrCat("none of its ", set->all().size(), " endpoints is ready");
        }
        return "its endpoints are not connected yet";
      });
  state->discovery = std::make_unique<ServiceDiscovery>(
      client_.get(), *target, options_.discovery,
      [raw](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
        raw->pool->Apply(set, &delta);
      });
  state->discovery->Start();
  services_.emplace(key, state);
  return ChannelHandle(state);
}

absl::Status Balancer::WaitForReady(absl::string_view target, absl::Time deadline) {
  absl::StatusOr<ChannelHandle> handle = Connect(target);
  if (!handle.ok()) return handle.status();
  if (handle->pool().WaitForReady(deadline)) return absl::OkStatus();
  absl::Status why = handle->pool().WithPick(
      [](PoolEndpoint* e, const absl::Status& empty) { return e == nullptr ? empty : absl::OkStatus(); });
  return absl::DeadlineExceededError(absl::StrCat(
      "kube-grpc: Service ", handle->target().ToString(), " has no READY endpoint yet",
      why.ok() ? " (its channels are still connecting)" : absl::StrCat(": ", why.message())));
}

std::vector<ServiceSnapshot> Balancer::Snapshot() const {
  std::vector<std::shared_ptr<internal::ServiceState>> services;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, s] : services_) services.push_back(s);
  }
  std::vector<ServiceSnapshot> out;
  for (const auto& s : services) {
    out.push_back({s->name, s->discovery->status(), s->pool->Snapshot()});
  }
  return out;
}

void Balancer::Shutdown() {
  std::map<std::string, std::shared_ptr<internal::ServiceState>> services;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    services.swap(services_);
  }
  // Discovery first (it feeds the pool), then the pools; handles keep the
  // (empty, shut down) pools alive.
  for (auto& [key, s] : services) s->discovery->Stop();
  for (auto& [key, s] : services) s->pool->Shutdown();
}

}  // namespace kubegrpc
