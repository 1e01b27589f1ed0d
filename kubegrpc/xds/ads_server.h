// File: kubegrpc/xds/ads_server.h
// -----------------------------------------------------------------------------
// AdsServer: an xDS control plane for gRPC's own xDS client, fed by kube-grpc's
// discovery. It serves envoy's Aggregated Discovery Service (state of the
// world, v3) on a real gRPC server: a client that resolves
// `xds:///greeter.prod:50051` asks for Listener "greeter.prod:50051", then its
// Cluster and ClusterLoadAssignment (resources.h), and gets each again when the
// Service's EndpointSlices change.
//
//   kubegrpc::ServiceRegistry registry(client.get(), discovery_options);
//   absl::StatusOr<std::unique_ptr<kubegrpc::xds::AdsServer>> server =
//       kubegrpc::xds::AdsServer::Start(&registry, "127.0.0.1:0");
//   // bootstrap: {"xds_servers": [{"server_uri": "127.0.0.1:<(*server)->port()>", ...}]}
//
// The protocol, per stream and per resource type:
// - A Listener or Cluster response carries every subscribed resource of its
//   type that exists (a missing one means "does not exist"); a
//   ClusterLoadAssignment response carries those that changed since the
//   stream's last one (all of them when the client asks), as the protocol
//   allows for endpoints: the client keeps the others. Each has a version_info
//   and a nonce of its own. A type is sent again only when what it would carry
//   changed, and each Service's assignment is built once per change for all
//   streams.
// - A request whose response_nonce is the last nonce sent is an ACK, or a NACK
//   when it carries error_detail: the NACK is counted and reported (on_log)
//   with the client's detail, and nothing is resent until the state changes;
//   the client keeps the version it ACKed last. A request with an older nonce
//   is stale and ignored, as the protocol says.
// - resource_names subscribe and unsubscribe: the stream follows exactly the
//   Services its names need. Unknown type URLs and names that are not targets
//   are answered with nothing (the client's does-not-exist timer decides).
// - Policies come from the Service's kube-grpc.io/ annotations
//   (PolicyFromAnnotations in resources.h: lb-policy, outlier-detection,
//   retry), re-read at every relist; one that cannot be used is reported
//   (on_log, naming the Service) and its default used.
// - A Service the API says does not exist (its Service or port is NotFound)
//   is left out of the Listener and Cluster responses: "does not exist", not an
//   empty cluster. While discovery has not yet heard anything about a new
//   Service, its resources wait.
// The source of truth is the ServiceRegistry: one ServiceDiscovery per Service
// whatever the number of streams, started when a stream first needs the
// Service and released `unsubscribe_grace` after the last one leaves.
//
// Thread-safety: thread-safe. Callbacks (on_log) run on gRPC's or discovery's
// threads with no lock of the server held.
// Errors: Start returns InvalidArgument for a bad address and Unavailable when
// the address cannot be bound.

#ifndef KUBEGRPC_XDS_ADS_SERVER_H_
#define KUBEGRPC_XDS_ADS_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "kubegrpc/k8s_client.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/target.h"

namespace kubegrpc::xds {

namespace internal {
class AdsService;
class StreamCore;
class ServiceWatch;
}  // namespace internal

struct AdsServerOptions {
  // How long a Service's discovery keeps running after the last stream that
  // needed it left (a client that reconnects finds it warm).
  absl::Duration unsubscribe_grace = absl::Seconds(30);
  // Lines for logs: each stream opened and closed (with the client's node id
  // and address), NACKs with the client's detail, bad names, annotations that
  // cannot be used. Null: none.
  std::function<void(const std::string& line)> on_log;
  // For the listening port; null: insecure (what XdsChannels uses on loopback).
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Namespaces whose Services may be served; empty: any. A Listener or
  // Cluster of another namespace is answered as "does not exist", without
  // asking the API, and logged.
  std::set<std::string> namespaces;
};

// Counters since Start (Stats()).
struct AdsServerStats {
  int64_t streams = 0;       // opened
  int64_t open_streams = 0;  // open now
  int64_t requests = 0;      // DiscoveryRequests read
  int64_t responses = 0;     // DiscoveryResponses sent
  int64_t acks = 0;
  int64_t nacks = 0;
  int64_t stale = 0;     // requests with an old nonce, ignored
  int64_t services = 0;  // Services followed now (discoveries running)
};

class AdsServer {
 public:
  // Serves ADS on `address` ("127.0.0.1:0" picks a port) from `registry`,
  // which must outlive the server.
  static absl::StatusOr<std::unique_ptr<AdsServer>> Start(ServiceRegistry* registry,
                                                          const std::string& address,
                                                          AdsServerOptions options = {});
  ~AdsServer();  // Shutdown()
  AdsServer(const AdsServer&) = delete;
  AdsServer& operator=(const AdsServer&) = delete;

  // The port it listens on.
  int port() const { return port_; }
  AdsServerStats Stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // Closes every stream and releases every Service. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class internal::AdsService;
  friend class internal::ServiceWatch;
  friend class internal::StreamCore;
  AdsServer(ServiceRegistry* registry, AdsServerOptions options);

  // A stream needs `target` / no longer does.
  std::shared_ptr<internal::ServiceWatch> Acquire(const ServiceTarget& target)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Release(const std::shared_ptr<internal::ServiceWatch>& watch) ABSL_LOCKS_EXCLUDED(mu_);
  void Log(const std::string& line) const;
  void Count(int64_t AdsServerStats::*field, int64_t n = 1) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops Services unused for unsubscribe_grace; on reaper_.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

  ServiceRegistry* const registry_;
  const AdsServerOptions options_;
  std::unique_ptr<internal::AdsService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread reaper_;

  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  AdsServerStats stats_ ABSL_GUARDED_BY(mu_);
  struct Watched {
    std::shared_ptr<internal::ServiceWatch> watch;
    int streams = 0;
    absl::Time idle_since = absl::InfiniteFuture();
  };
  std::map<std::string, Watched> watches_ ABSL_GUARDED_BY(mu_);  // by ServiceTarget key
};

}  // namespace kubegrpc::xds

#endif  // KUBEGRPC_XDS_ADS_SERVER_H_
