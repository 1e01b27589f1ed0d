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

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
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

envoy::config::listener::v3::Listener MakeListener(const std::string& listener_name,
                                                   const ServiceTarget& target);
envoy::config::cluster::v3::Cluster MakeCluster(const ServiceTarget& target);
// `set` may be null (nothing known yet): no endpoints.
envoy::config::endpoint::v3::ClusterLoadAssignment MakeLoadAssignment(const ServiceTarget& target,
                                                                      const EndpointSet* set);

}  // namespace kubegrpc::xds

#endif  // KUBEGRPC_XDS_RESOURCES_H_
