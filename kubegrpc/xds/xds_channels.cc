#include "kubegrpc/xds/xds_channels.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "kubegrpc/http_k8s_client.h"
#include "kubegrpc/target.h"
#include "nlohmann/json.hpp"

namespace kubegrpc::xds {
namespace {

constexpr char kBootstrapVar[] = "GRPC_XDS_BOOTSTRAP_CONFIG";
constexpr char kBootstrapFileVar[] = "GRPC_XDS_BOOTSTRAP";

std::string DefaultNodeId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat("kube-grpc/", host[0] != '\0' ? host : "unknown", "/", getpid());
}

}  // namespace

XdsChannels::XdsChannels(std::shared_ptr<ServiceRegistry> registry, std::string default_namespace,
                         XdsChannelsOptions options)
    : default_namespace_(std::move(default_namespace)),
      options_(std::move(options)),
      registry_(std::move(registry)) {}

absl::StatusOr<std::unique_ptr<XdsChannels>> XdsChannels::Start(XdsChannelsOptions options) {
  absl::StatusOr<ClusterConfig> config = DefaultConfig();
  if (!config.ok()) return config.status();
  return Start(*config, std::move(options));
}

absl::StatusOr<std::unique_ptr<XdsChannels>> XdsChannels::Start(const ClusterConfig& config,
                                                                XdsChannelsOptions options) {
  absl::StatusOr<std::unique_ptr<HttpK8sClient>> client = HttpK8sClient::Create(config);
  if (!client.ok()) return client.status();
  return Start(std::shared_ptr<K8sClient>(*std::move(client)), config.ns, std::move(options));
}

absl::StatusOr<std::unique_ptr<XdsChannels>> XdsChannels::Start(std::shared_ptr<K8sClient> client,
                                                                std::string default_namespace,
                                                                XdsChannelsOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("kube-grpc xDS: XdsChannels::Start needs a K8sClient");
  }
  DiscoveryOptions discovery = options.discovery;
  return Start(ServiceRegistry::Create(std::move(client), discovery), std::move(default_namespace),
               std::move(options));
}

absl::StatusOr<std::unique_ptr<XdsChannels>> XdsChannels::Start(
    std::shared_ptr<ServiceRegistry> registry, std::string default_namespace,
    XdsChannelsOptions options) {
  if (registry == nullptr) {
    return absl::InvalidArgumentError("kube-grpc xDS: XdsChannels::Start needs a ServiceRegistry");
  }
  for (const char* var : {kBootstrapVar, kBootstrapFileVar}) {
    if (const char* set = std::getenv(var); set != nullptr && set[0] != '\0') {
      return absl::FailedPreconditionError(absl::StrCat(
          "kube-grpc xDS: ", var,
          " is already set, so gRPC's xDS client would not use kube-grpc's server (one "
          "XdsChannels per process, and no other xDS bootstrap): unset it, or Shutdown() the "
          "other XdsChannels first"));
    }
  }
  if (default_namespace.empty()) default_namespace = "default";
  std::unique_ptr<XdsChannels> xds(
      new XdsChannels(std::move(registry), std::move(default_namespace), std::move(options)));
  absl::StatusOr<std::unique_ptr<AdsServer>> server =
      AdsServer::Start(xds->registry_.get(), xds->options_.listen_address, xds->options_.server);
  if (!server.ok()) return server.status();
  xds->server_ = *std::move(server);

  nlohmann::json bootstrap = {
      {"xds_servers",
       nlohmann::json::array({{{"server_uri", absl::StrCat("127.0.0.1:", xds->server_->port())},
                               {"channel_creds", nlohmann::json::array({{{"type", "insecure"}}})},
                               {"server_features", nlohmann::json::array({"xds_v3"})}}})},
      {"node",
       {{"id", xds->options_.node_id.empty() ? DefaultNodeId() : xds->options_.node_id},
        {"cluster", "kube-grpc"}}}};
  const std::string host =
      xds->options_.listen_address.substr(0, xds->options_.listen_address.rfind(':'));
  if (host != "127.0.0.1" && host != "localhost" && host != "0.0.0.0" && host != "[::]") {
    bootstrap["xds_servers"][0]["server_uri"] = absl::StrCat(host, ":", xds->server_->port());
  }
  xds->bootstrap_ = bootstrap.dump();
  if (setenv(kBootstrapVar, xds->bootstrap_.c_str(), 1) != 0) {
    return absl::InternalError(absl::StrCat("kube-grpc xDS: cannot set ", kBootstrapVar));
  }
  return xds;
}

XdsChannels::~XdsChannels() { Shutdown(); }

absl::StatusOr<std::string> XdsChannels::XdsTarget(absl::string_view target) const {
  absl::StatusOr<ServiceTarget> parsed = ParseTarget(target);
  if (!parsed.ok()) return parsed.status();
  return absl::StrCat("xds:///", parsed->name, ".",
                      parsed->ns.empty() ? default_namespace_ : parsed->ns, ":",
                      parsed->port_name.empty() ? std::to_string(parsed->port) : parsed->port_name);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> XdsChannels::Channel(
    absl::string_view target, const grpc::ChannelArguments& args) {
  absl::StatusOr<std::string> uri = XdsTarget(target);
  if (!uri.ok()) return uri.status();
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) {
      return absl::FailedPreconditionError(
          absl::StrCat("kube-grpc xDS: channel to ", target, " asked for after Shutdown()"));
    }
  }
  return grpc::CreateCustomChannel(
      *uri,
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
      args);
}

void XdsChannels::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  if (server_ != nullptr) {
    // gRPC closes its ADS stream when its last xDS channel is gone; until then
    // a new XdsChannels would find gRPC's xDS client still pointed here.
    const absl::Time deadline = absl::Now() + options_.shutdown_wait;
    while (server_->Stats().open_streams > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    server_->Shutdown();
  }
  registry_.reset();
  if (const char* set = std::getenv(kBootstrapVar); set != nullptr && set == bootstrap_) {
    unsetenv(kBootstrapVar);
  }
}

}  // namespace kubegrpc::xds
