// File: kubegrpc/xds/resources.h
// -----------------------------------------------------------------------------
// The xDS resources kube-grpc serves for one Service port, built from what
// discovery knows. gRPC's xDS client resolves `xds:///greeter.prod:50051` as:
//
//   Listener "greeter.prod:50051"            (LDS; the name the client asked for)
//     └ ApiListener: HttpConnectionManager, route config inline, router filter
//         └ every path → Cluster "prod/greeter:50051"
//   Cluster "prod/greeter:50051"             (CDS; type EDS over ADS, round_robin)
//   ClusterLoadAssignment "prod/greeter:50051"  (EDS; the Service's endpoints)
//
// The Listener name is any spelling ParseTarget accepts (`greeter.prod:50051`,
// `greeter.prod.svc.cluster.local:50051`, `kubernetes:///greeter.prod:grpc`);
// Cluster and ClusterLoadAssignment names are the canonical ServiceTarget key
// ("namespace/name:port"), so every spelling shares one cluster.
//
// Endpoints map as discovery sees them: one locality per zone (weight = its
// endpoints; "" for endpoints without a zone) when the Service asks for zone
// preference (trafficDistribution: every ready endpoint carries hints.forZones), one
// locality for all otherwise (gRPC would draw a zone at random per call and
// round-robin only within it), ready → HEALTHY,
// serving and terminating → DRAINING (gRPC sends it nothing new), not ready →
// UNHEALTHY; addresses carry the Service port's target port, exactly as the
// pool dials them.
//
// Thread-safety: pure functions.

#ifndef KUBEGRPC_XDS_RESOURCES_H_
#define KUBEGRPC_XDS_RESOURCES_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "kubegrpc/endpoint_set.h"
#include "kubegrpc/target.h"

namespace kubegrpc::xds {

// The resource types kube-grpc serves (state of the world, over ADS).
inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteConfigType[] =
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kEndpointType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// The Service a Listener or Cluster name stands for. A Listener name is a
// target (ParseTarget's forms; a namespace is required, there is no "client's
// own" namespace on a server); a Cluster name is a ServiceTarget key
// ("ns/name:port", or "ns/name:portname"). InvalidArgument otherwise.
absl::StatusOr<ServiceTarget> ListenerTarget(absl::string_view listener_name);
absl::StatusOr<ServiceTarget> ClusterTarget(absl::string_view cluster_name);

// The Cluster / ClusterLoadAssignment name of `target`: "ns/name:port".
std::string ClusterName(const ServiceTarget& target);

// Policies a Service asks for through its annotations (gRPC's own names):
//   kube-grpc.io/lb-policy          round_robin (the default, and the only one:
//                                   ring_hash crashed gRPC 1.51.1's xDS client
//                                   in our tests, grpc/grpc#31766, so it is
//                                   refused with an error)
//   kube-grpc.io/outlier-detection  gRPC A50's outlier_detection JSON, e.g.
//       {"interval": "10s", "baseEjectionTime": "30s", "maxEjectionTime": "300s",
//        "maxEjectionPercent": 10,
//        "successRateEjection": {"stdevFactor": 1900, "enforcementPercentage": 100,
//                                "minimumHosts": 5, "requestVolume": 100},
//        "failurePercentageEjection": {"threshold": 85, ...}}
//   kube-grpc.io/retry              gRPC A44's retry policy on the route, e.g.
//       {"retryOn": "unavailable,cancelled", "numRetries": 2,
//        "baseInterval": "0.025s", "maxInterval": "0.25s"}
// Debian's gRPC 1.51 applies both with no environment variable set (its
// outlier detection and xDS retries are no longer experimental there; the
// binary reads no variable for them), as xds_e2e_test shows with real calls.
struct ServicePolicy {
  envoy::config::cluster::v3::Cluster::LbPolicy lb_policy =
      envoy::config::cluster::v3::Cluster::ROUND_ROBIN;
  std::optional<envoy::config::cluster::v3::OutlierDetection> outlier_detection;
  std::optional<envoy::config::route::v3::RetryPolicy> retry;
  // One line per annotation that could not be used (its default is used
  // instead), naming the annotation and what is wrong.
  std::vector<std::string> errors;
};
ServicePolicy PolicyFromAnnotations(const std::map<std::string, std::string>& annotations);

envoy::config::listener::v3::Listener MakeListener(const std::string& listener_name,
                                                   const ServiceTarget& target,
                                                   const ServicePolicy& policy = {});
envoy::config::cluster::v3::Cluster MakeCluster(const ServiceTarget& target,
                                                const ServicePolicy& policy = {});
// `set` may be null (nothing known yet): no endpoints. Without a ready
// endpoint the assignment keeps a locality and drops every call (category
// kNoReadyEndpointsDrop, 100 %): gRPC 1.51's client crashes on an assignment
// whose localities it cannot use (grpc/grpc#32486; see resources.cc). Calls
// then fail as UNAVAILABLE at once, wait_for_ready or not, as the pool's do.
inline constexpr absl::string_view kNoReadyEndpointsDrop = "kube-grpc/no-ready-endpoints";
envoy::config::endpoint::v3::ClusterLoadAssignment MakeLoadAssignment(const ServiceTarget& target,
                                                                      const EndpointSet* set);

}  // namespace kubegrpc::xds

#endif  // KUBEGRPC_XDS_RESOURCES_H_
