// File: kubegrpc/balancer.h
// -----------------------------------------------------------------------------
// kube-grpc's public API: one balanced, self-healing pool of gRPC channels per
// Kubernetes Service.
//
//   absl::StatusOr<std::unique_ptr<kubegrpc::Balancer>> balancer =
//       kubegrpc::Balancer::Create();                 // in-cluster or kubeconfig
//   auto greeter = (*balancer)->Connect<helloworld::Greeter>(
//       "greeter.prod.svc.cluster.local:50051");
//   (*balancer)->WaitForReady("greeter.prod.svc.cluster.local:50051",
//                             absl::Now() + absl::Seconds(10));
//   grpc::ClientContext ctx;
//   auto stub = greeter->Next();                      // round-robin over ready pods
//   if (stub.ok()) (*stub)->SayHello(&ctx, request, &reply);
//
//   // Idempotent calls: on UNAVAILABLE, retry on a different pod.
//   grpc::Status s = kubegrpc::Call(*greeter, &helloworld::Greeter::Stub::SayHello,
//                                   request, &reply, {.idempotent = true});
//
// One discovery (list + watch of the Service's EndpointSlices) and one pool run
// per Service however often Connect is called, from however many threads. The
// Kubernetes client is shared by all Services. Handles are cheap to copy and
// stay valid after the Balancer is gone (their Next() then fails).
//
// Errors (absl::Status): InvalidArgument for a bad target; Unavailable from
// Next() when the Service has no endpoint to call, naming the Service and why
// (discovery has not succeeded yet, with its last error / no endpoints / none
// ready / none healthy); DeadlineExceeded from WaitForReady; FailedPrecondition after
// Shutdown(). An unknown Service or port is reported by discovery (status in
// Snapshot()) and keeps being retried: the Service may be created later.
//
// Thread-safety: thread-safe. Next() takes no lock.

#ifndef KUBEGRPC_BALANCER_H_
#define KUBEGRPC_BALANCER_H_

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/balancer_options.h"
#include "kubegrpc/config.h"
#include "kubegrpc/k8s_client.h"
#include "kubegrpc/picker.h"
#include "kubegrpc/snapshot.h"
#include "kubegrpc/target.h"

namespace kubegrpc {

class ServiceRegistry;
namespace internal {
class EventQueue;
class ServiceChannels;
}  // namespace internal

// Hands out the channels of one Service, round-robin.
class ChannelHandle {
 public:
  ChannelHandle() = default;
  // The next channel; Unavailable (naming the Service and why) if none.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Next() const;
  // The next endpoint (its channel, cached stubs and call counters), skipping
  // those in `avoid` while another is available.
  absl::StatusOr<std::shared_ptr<PoolEndpoint>> NextEndpoint(
      const std::vector<const PoolEndpoint*>& avoid = {}) const;
  const ServiceTarget& target() const;

 private:
  friend class Balancer;
  explicit ChannelHandle(std::shared_ptr<internal::ServiceChannels> service)
      : service_(std::move(service)) {}
  std::shared_ptr<internal::ServiceChannels> service_;
};

// Hands out typed stubs of service S (S::Stub), one per pod, created once and reused.
template <typename S>
class StubHandle {
 public:
  using Stub = typename S::Stub;
  StubHandle() = default;
  explicit StubHandle(ChannelHandle channels) : channels_(std::move(channels)) {}

  absl::StatusOr<std::shared_ptr<Stub>> Next() const {
    absl::StatusOr<std::shared_ptr<PoolEndpoint>> e = channels_.NextEndpoint();
    if (!e.ok()) return e.status();
    return StubOf(*std::move(e));
  }
  // The stub of endpoint `e` (kept alive by the returned pointer).
  static std::shared_ptr<Stub> StubOf(std::shared_ptr<PoolEndpoint> e) {
    PoolEndpoint* raw = e.get();
    Stub* stub = raw->Cached<Stub>([raw] { return S::NewStub(raw->channel()); });
    if (stub == nullptr) return std::shared_ptr<Stub>(S::NewStub(raw->channel()));
    return std::shared_ptr<Stub>(std::move(e), stub);
  }
  const ChannelHandle& channels() const { return channels_; }

 private:
  ChannelHandle channels_;
};

class Balancer {
 public:
  // From the environment: in-cluster config in a pod, else the kubeconfig.
  static absl::StatusOr<std::unique_ptr<Balancer>> Create(BalancerOptions options = {});
  static absl::StatusOr<std::unique_ptr<Balancer>> Create(const ClusterConfig& config,
                                                          BalancerOptions options = {});
  // Over any K8sClient (tests, or a client you built); `default_namespace` for
  // targets that name none.
  static absl::StatusOr<std::unique_ptr<Balancer>> Create(std::shared_ptr<K8sClient> client,
                                                          std::string default_namespace,
                                                          BalancerOptions options = {});
  ~Balancer();  // Shutdown()s
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // The channels of the Service `target` names; starts its discovery on first use.
  absl::StatusOr<ChannelHandle> Connect(absl::string_view target) ABSL_LOCKS_EXCLUDED(mu_);
  template <typename S>
  absl::StatusOr<StubHandle<S>> Connect(absl::string_view target) {
    absl::StatusOr<ChannelHandle> channels = Connect(target);
    if (!channels.ok()) return channels.status();
    return StubHandle<S>(*std::move(channels));
  }

  // Waits until `target` has a READY endpoint: OK, or DeadlineExceeded naming why not.
  absl::Status WaitForReady(absl::string_view target, absl::Time deadline);

  // Checks the Service's pods with `ping` (the original package's Ping: an
  // error takes the pod out of rotation until a later check passes), every
  // options.pool.health.interval with its timeout. With a non-null `once_key`,
  // nothing happens if the check installed last had the same key.
  absl::Status SetHealthCheck(absl::string_view target,
                              std::function<absl::Status(PoolEndpoint&, absl::Time)> ping,
                              const void* once_key = nullptr);

  std::vector<ServiceSnapshot> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

  // The registry that runs this Balancer's discoveries (one per Service). Give
  // it to xds::XdsChannels::Start to serve the same Services to gRPC's xDS
  // client with one discovery per Service for both. It keeps the Kubernetes
  // client alive and may outlive the Balancer.
  std::shared_ptr<ServiceRegistry> registry() const { return registry_; }

  // Stops every discovery and releases every channel. Handles then fail.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Balancer(std::shared_ptr<K8sClient> client, std::string default_namespace,
           BalancerOptions options);
  // Reads Node `node`'s zone (retrying what may pass: outages, throttling)
  // and gives it to every pool; on the Balancer's zone thread.
  void ResolveZone(const std::string& node) ABSL_LOCKS_EXCLUDED(mu_);
  void ZoneEvent(std::string detail);

  const std::shared_ptr<K8sClient> client_;
  const std::string default_namespace_;
  const BalancerOptions options_;
  std::shared_ptr<SubchannelFactory> factory_;
  // Declared before what posts to it: destroyed after them.
  std::unique_ptr<internal::EventQueue> events_;
  std::shared_ptr<ServiceRegistry> registry_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<internal::ServiceChannels>> services_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // The client's zone (PoolOptions::zone), as known now: new pools get it.
  std::string zone_ ABSL_GUARDED_BY(mu_);
  std::thread zone_thread_;  // reads NODE_NAME's Node, when that is the source
  Cancellation stop_zone_;
};

// --- The call helper ---------------------------------------------------------------

struct CallOptions {
  // Retry on a different pod when an attempt fails with UNAVAILABLE (the pod is
  // gone or unreachable) or CANCELLED (the pod's server shut down mid-call: the
  // helper never cancels its own attempts). Only for calls that are safe to
  // repeat: the first attempt may have reached the server.
  bool idempotent = false;
  int max_attempts = 3;
  // Per-attempt deadline (relative: gRPC's own clock measures it).
  absl::Duration timeout = absl::Seconds(30);
  // Sets up each attempt's context (metadata, compression, ...).
  std::function<void(grpc::ClientContext&)> configure;
};

// Runs `method` on the next pod's stub; with `options.idempotent`, a failure with
// UNAVAILABLE or CANCELLED is retried on a pod not tried yet (up to max_attempts).
// Returns the last attempt's status (UNAVAILABLE naming the Service if there was
// no pod).
template <typename S, typename Request, typename Response>
grpc::Status Call(const StubHandle<S>& handle,
                  grpc::Status (S::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const Request& request, Response* response, const CallOptions& options = {}) {
  std::vector<const PoolEndpoint*> tried;
  grpc::Status status(grpc::StatusCode::UNAVAILABLE, "kube-grpc: no attempt made");
  const int attempts = options.idempotent ? std::max(1, options.max_attempts) : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    absl::StatusOr<std::shared_ptr<PoolEndpoint>> endpoint = handle.channels().NextEndpoint(tried);
    if (!endpoint.ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(endpoint.status().message()));
    }
    tried.push_back(endpoint->get());
    ScopedCall counted(**endpoint);
    std::shared_ptr<typename S::Stub> stub = StubHandle<S>::StubOf(*endpoint);
    grpc::ClientContext context;
    if (options.timeout != absl::InfiniteDuration()) {
      context.set_deadline(
          gpr_time_from_micros(absl::ToInt64Microseconds(options.timeout), GPR_TIMESPAN));
    }
    if (options.configure) options.configure(context);
    status = ((*stub).*method)(&context, request, response);
    counted.set_code(status.error_code());
    if (status.ok()) return status;
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::CANCELLED) {
      return status;
    }
  }
  return status;
}

// --- The original package's interface, in C++ ----------------------------------------

// What a caller provides: how to make its client from a channel, and how to
// check that a client's pod is healthy (used as the Service's health check).
template <typename Client>
class GrpcKubeBalancer {
 public:
  virtual ~GrpcKubeBalancer() = default;
  virtual std::unique_ptr<Client> NewGrpcClient(const std::shared_ptr<grpc::Channel>& channel) = 0;
  // An error takes the pod out of rotation until a later Ping succeeds.
  virtual absl::Status Ping(Client& client) = 0;
};

// The next client for `target`, round-robin; clients are made once per pod by
// `kube_balancer.NewGrpcClient` and reused. The first call per Service installs
// `kube_balancer.Ping` as the Service's health check. `kube_balancer` must outlive
// the Balancer's use of the Service.
template <typename Client>
absl::StatusOr<std::shared_ptr<Client>> Connect(Balancer& balancer, absl::string_view target,
                                                GrpcKubeBalancer<Client>& kube_balancer) {
  absl::StatusOr<ChannelHandle> channels = balancer.Connect(target);
  if (!channels.ok()) return channels.status();
  auto make = [&kube_balancer](PoolEndpoint& e) {
    return e.Cached<Client>([&] { return kube_balancer.NewGrpcClient(e.channel()); });
  };
  // Once per Service and balancer object: Connect() may run on every call.
  absl::Status installed = balancer.SetHealthCheck(
      target,
      [&kube_balancer, make](PoolEndpoint& e, absl::Time) {
        Client* client = make(e);
        return client != nullptr ? kube_balancer.Ping(*client)
                                 : absl::InternalError("kube-grpc: NewGrpcClient returned null");
      },
      &kube_balancer);
  if (!installed.ok()) return installed;
  absl::StatusOr<std::shared_ptr<PoolEndpoint>> e = channels->NextEndpoint();
  if (!e.ok()) return e.status();
  Client* client = make(**e);
  if (client == nullptr) return absl::InternalError("kube-grpc: NewGrpcClient returned null");
  return std::shared_ptr<Client>(*std::move(e), client);
}

}  // namespace kubegrpc

#endif  // KUBEGRPC_BALANCER_H_
