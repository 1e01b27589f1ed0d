// File: kubegrpc/xds/xds_channels.h
// -----------------------------------------------------------------------------
// XdsChannels: standard grpc::Channels whose calls gRPC's own xDS client
// balances over a Service's pods, fed by kube-grpc's discovery. It starts an
// AdsServer on loopback (port 0) in this process, points gRPC's xDS bootstrap
// at it, and hands out `xds:///name.namespace:port` channels:
//
//   absl::StatusOr<std::unique_ptr<kubegrpc::xds::XdsChannels>> xds =
//       kubegrpc::xds::XdsChannels::Start();   // in-cluster config or kubeconfig
//   if (!xds.ok()) return xds.status();
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> ch = (*xds)->Channel("greeter.prod:50051");
//   auto stub = helloworld::Greeter::NewStub(*ch);   // every call balanced by gRPC
//
// Such a channel is an ordinary grpc::Channel: async, callback and streaming
// calls, interceptors, service-config retries and deadlines all work, and gRPC
// picks per call (round_robin over the ready pods, localities by zone).
//
// The process-wide constraint: gRPC reads its xDS bootstrap from the
// environment (GRPC_XDS_BOOTSTRAP_CONFIG) when it creates its xDS client, which
// lives while any xDS channel does. So one XdsChannels at a time per process:
// Start sets the variable and Shutdown clears it. Start answers
// FailedPrecondition, and changes nothing, if GRPC_XDS_BOOTSTRAP or
// GRPC_XDS_BOOTSTRAP_CONFIG is already set (another control plane, or another
// XdsChannels), naming the variable. Create every xDS channel through
// Channel() and drop them before Shutdown: Shutdown then waits (up to
// `shutdown_wait`) until gRPC has closed its xDS stream, which it does when its
// last xDS channel is gone, so that a later XdsChannels in the same process
// gets a new xDS client reading the new bootstrap.
//
// With a Balancer too: Start(balancer->registry(), ns) serves the Balancer's
// registry, so that both doors share one discovery per Service.
//
// RBAC: what the pool needs (get services; list and watch endpointslices in
// the Services' namespaces).
//
// Thread-safety: thread-safe.
// Errors: Start as Balancer::Create (config, API) plus FailedPrecondition
// above; Channel answers InvalidArgument for a target ParseTarget rejects and
// FailedPrecondition after Shutdown.

#ifndef KUBEGRPC_XDS_XDS_CHANNELS_H_
#define KUBEGRPC_XDS_XDS_CHANNELS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "kubegrpc/config.h"
#include "kubegrpc/discovery_options.h"
#include "kubegrpc/k8s_client.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/xds/ads_server.h"

namespace kubegrpc::xds {

struct XdsChannelsOptions {
  // Where the in-process xDS server listens: loopback, any free port.
  std::string listen_address = "127.0.0.1:0";
  DiscoveryOptions discovery;
  AdsServerOptions server;
  // For the pods' connections; null: insecure.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The node id gRPC's xDS client reports; "" = "kube-grpc/<host name>/<pid>".
  std::string node_id;
  // How long Shutdown waits for gRPC to close its xDS streams (see above).
  absl::Duration shutdown_wait = absl::Seconds(5);
};

class XdsChannels {
 public:
  // From the in-cluster config, else the kubeconfig (DefaultConfig()).
  static absl::StatusOr<std::unique_ptr<XdsChannels>> Start(XdsChannelsOptions options = {});
  static absl::StatusOr<std::unique_ptr<XdsChannels>> Start(const ClusterConfig& config,
                                                            XdsChannelsOptions options = {});
  // Over any Kubernetes client; targets without a namespace use
  // `default_namespace`.
  static absl::StatusOr<std::unique_ptr<XdsChannels>> Start(std::shared_ptr<K8sClient> client,
                                                            std::string default_namespace,
                                                            XdsChannelsOptions options = {});
  // Serves the Services of an existing registry (a Balancer's: one discovery
  // per Service for both doors); options.discovery is then the registry's.
  static absl::StatusOr<std::unique_ptr<XdsChannels>> Start(
      std::shared_ptr<ServiceRegistry> registry, std::string default_namespace,
      XdsChannelsOptions options = {});
  ~XdsChannels();  // Shutdown()
  XdsChannels(const XdsChannels&) = delete;
  XdsChannels& operator=(const XdsChannels&) = delete;

  // A channel to `target` (any form ParseTarget accepts) balanced by gRPC's
  // xDS client; `args` are added to the channel's.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel(absl::string_view target,
                                                         const grpc::ChannelArguments& args = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // The xds:/// URI Channel() dials for `target` ("xds:///greeter.prod:50051").
  absl::StatusOr<std::string> XdsTarget(absl::string_view target) const;

  // The bootstrap JSON gRPC was given, and the server behind it.
  const std::string& bootstrap() const { return bootstrap_; }
  AdsServer& server() { return *server_; }
  // The registry behind the server (for a discovery status, or to share).
  const std::shared_ptr<ServiceRegistry>& registry() const { return registry_; }

  // Stops the server and clears the bootstrap variable. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  XdsChannels(std::shared_ptr<ServiceRegistry> registry, std::string default_namespace,
              XdsChannelsOptions options);

  const std::string default_namespace_;
  const XdsChannelsOptions options_;
  std::shared_ptr<ServiceRegistry> registry_;
  std::unique_ptr<AdsServer> server_;
  std::string bootstrap_;
  absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kubegrpc::xds

#endif  // KUBEGRPC_XDS_XDS_CHANNELS_H_
