#include "kubegrpc/xds/resources.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "nlohmann/json.hpp"

namespace kubegrpc::xds {
namespace {

namespace core = envoy::config::core::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;

// A duration such as "10s" or "0.025s" into `out`; false if it is not one.
bool SetDuration(const nlohmann::json& v, google::protobuf::Duration* out) {
  absl::Duration d;
  if (!v.is_string() || !absl::ParseDuration(v.get<std::string>(), &d) ||
      d < absl::ZeroDuration()) {
    return false;
  }
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return true;
}

// A whole number in [0, max] into `out`; false if it is not one.
bool SetUInt(const nlohmann::json& v, uint32_t max, google::protobuf::UInt32Value* out) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > max) return false;
  out->set_value(static_cast<uint32_t>(v.get<int64_t>()));
  return true;
}

// gRPC A50's outlier_detection config as envoy's OutlierDetection; "" if it
// is valid, else what is wrong.
std::string OutlierDetectionFrom(const nlohmann::json& j,
                                 envoy::config::cluster::v3::OutlierDetection* out) {
  if (!j.is_object()) return "is not a JSON object";
  for (const auto& [key, v] : j.items()) {
    bool ok = true;
    if (key == "interval") {
      ok = SetDuration(v, out->mutable_interval());
    } else if (key == "baseEjectionTime") {
      ok = SetDuration(v, out->mutable_base_ejection_time());
    } else if (key == "maxEjectionTime") {
      ok = SetDuration(v, out->mutable_max_ejection_time());
    } else if (key == "maxEjectionPercent") {
      ok = SetUInt(v, 100, out->mutable_max_ejection_percent());
    } else if (key == "successRateEjection" || key == "failurePercentageEjection") {
      const bool rate = key == "successRateEjection";
      if (!v.is_object()) return absl::StrCat(key, " is not an object");
      for (const auto& [field, x] : v.items()) {
        if (rate && field == "stdevFactor") {
          ok = SetUInt(x, 1u << 31, out->mutable_success_rate_stdev_factor());
        } else if (field == "enforcementPercentage") {
          ok = SetUInt(x, 100,
                       rate ? out->mutable_enforcing_success_rate()
                            : out->mutable_enforcing_failure_percentage());
        } else if (field == "minimumHosts") {
          ok = SetUInt(x, 1u << 31,
                       rate ? out->mutable_success_rate_minimum_hosts()
                            : out->mutable_failure_percentage_minimum_hosts());
        } else if (field == "requestVolume") {
          ok = SetUInt(x, 1u << 31,
                       rate ? out->mutable_success_rate_request_volume()
                            : out->mutable_failure_percentage_request_volume());
        } else if (!rate && field == "threshold") {
          ok = SetUInt(x, 100, out->mutable_failure_percentage_threshold());
        } else {
          return absl::StrCat(key, ".", field, " is not a field of it");
        }
        if (!ok) return absl::StrCat(key, ".", field, " has a bad value");
      }
      if (!rate) {
        // A failure-percentage rule is asked for: on, unless told otherwise.
        if (!out->has_enforcing_failure_percentage()) {
          out->mutable_enforcing_failure_percentage()->set_value(100);
        }
      }
      continue;
    } else {
      return absl::StrCat(key, " is not a field of it");
    }
    if (!ok) return absl::StrCat(key, " has a bad value");
  }
  // Without successRateEjection the success-rate rule is off (A50).
  if (!j.contains("successRateEjection")) out->mutable_enforcing_success_rate()->set_value(0);
  return "";
}

// gRPC A44's retry policy as envoy's RetryPolicy; "" if valid, else why not.
std::string RetryFrom(const nlohmann::json& j, envoy::config::route::v3::RetryPolicy* out) {
  if (!j.is_object()) return "is not a JSON object";
  for (const auto& [key, v] : j.items()) {
    bool ok = true;
    if (key == "retryOn") {
      ok = v.is_string() && !v.get<std::string>().empty();
      if (ok) {
        for (absl::string_view code : absl::StrSplit(v.get<std::string>(), ',')) {
          code = absl::StripAsciiWhitespace(code);
          ok &= code == "cancelled" || code == "deadline-exceeded" || code == "internal" ||
                code == "resource-exhausted" || code == "unavailable";
        }
        out->set_retry_on(v.get<std::string>());
      }
    } else if (key == "numRetries") {
      ok = SetUInt(v, 100, out->mutable_num_retries());
    } else if (key == "baseInterval") {
      ok = SetDuration(v, out->mutable_retry_back_off()->mutable_base_interval());
    } else if (key == "maxInterval") {
      ok = SetDuration(v, out->mutable_retry_back_off()->mutable_max_interval());
    } else {
      return absl::StrCat(key, " is not a field of it");
    }
    if (!ok) return absl::StrCat(key, " has a bad value");
  }
  if (out->retry_on().empty()) return "retryOn is missing";
  if (out->has_retry_back_off() && !out->retry_back_off().has_base_interval()) {
    return "maxInterval without baseInterval";
  }
  return "";
}

core::HealthStatus HealthOf(const Endpoint& e) {
  if (e.ready) return core::HEALTHY;
  if (e.serving && e.terminating) return core::DRAINING;
  return core::UNHEALTHY;
}

}  // namespace

ServicePolicy PolicyFromAnnotations(const std::map<std::string, std::string>& annotations) {
  ServicePolicy policy;
  for (const auto& [key, value] : annotations) {
    if (key == "kube-grpc.io/lb-policy") {
      if (value == "ring_hash") {
        // Served as asked, it crashed the client (a segmentation fault in
        // libgrpc's work serializer, Debian's gRPC 1.51, in xds_e2e_test): the
        // ring_hash picker's bad cast of grpc/grpc#31766, fixed by
        // grpc/grpc#32012 and backported to 1.51 in June 2023, after the 1.51.1
        // that Debian packages.
        policy.errors.push_back(absl::StrCat(
            key,
            ": ring_hash crashes gRPC 1.51's xDS client, so kube-grpc does not serve it; "
            "using round_robin"));
      } else if (value != "round_robin") {
        policy.errors.push_back(
            absl::StrCat(key, ": \"", value, "\" is not round_robin; using round_robin"));
      }
      continue;
    }
    const bool outlier = key == "kube-grpc.io/outlier-detection";
    const bool retry = key == "kube-grpc.io/retry";
    if (!outlier && !retry) {
      policy.errors.push_back(absl::StrCat(
          key, ": not an annotation kube-grpc knows (lb-policy, outlier-detection, retry)"));
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      policy.errors.push_back(absl::StrCat(key, ": not JSON; using none"));
      continue;
    }
    std::string error;
    if (outlier) {
      envoy::config::cluster::v3::OutlierDetection od;
      error = OutlierDetectionFrom(j, &od);
      if (error.empty()) policy.outlier_detection = std::move(od);
    } else {
      envoy::config::route::v3::RetryPolicy r;
      error = RetryFrom(j, &r);
      if (error.empty()) policy.retry = std::move(r);
    }
    if (!error.empty()) policy.errors.push_back(absl::StrCat(key, ": ", error, "; using none"));
  }
  return policy;
}

absl::StatusOr<ServiceTarget> ListenerTarget(absl::string_view listener_name) {
  absl::StatusOr<ServiceTarget> target = ParseTarget(listener_name);
  if (!target.ok()) return target.status();
  if (target->ns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kube-grpc xDS: listener \"", listener_name,
        "\" names no namespace; ask for name.namespace:port (\"xds:///", target->name, ".default:",
        target->port_name.empty() ? std::to_string(target->port) : target->port_name, "\")"));
  }
  return target;
}

absl::StatusOr<ServiceTarget> ClusterTarget(absl::string_view cluster_name) {
  const size_t slash = cluster_name.find('/');
  const size_t colon = cluster_name.rfind(':');
  if (slash == absl::string_view::npos || colon == absl::string_view::npos || colon < slash) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc xDS: cluster \"", cluster_name, "\" is not namespace/name:port"));
  }
  const std::string spelled =
      absl::StrCat(cluster_name.substr(slash + 1, colon - slash - 1), ".",
                   cluster_name.substr(0, slash), cluster_name.substr(colon));
  absl::StatusOr<ServiceTarget> target = ParseTarget(spelled);
  if (!target.ok() || ClusterName(*target) != cluster_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc xDS: cluster \"", cluster_name, "\" is not namespace/name:port"));
  }
  return target;
}

std::string ClusterName(const ServiceTarget& target) { return target.ToString(); }

envoy::config::listener::v3::Listener MakeListener(const std::string& listener_name,
                                                   const ServiceTarget& target,
                                                   const ServicePolicy& policy) {
  hcm::HttpConnectionManager manager;
  auto* routes = manager.mutable_route_config();
  routes->set_name(listener_name);
  auto* host = routes->add_virtual_hosts();
  host->set_name(ClusterName(target));
  host->add_domains("*");
  auto* route = host->add_routes();
  route->mutable_match()->set_prefix("");
  route->mutable_route()->set_cluster(ClusterName(target));
  if (policy.retry.has_value()) *route->mutable_route()->mutable_retry_policy() = *policy.retry;
  auto* router = manager.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());

  envoy::config::listener::v3::Listener listener;
  listener.set_name(listener_name);
  listener.mutable_api_listener()->mutable_api_listener()->PackFrom(manager);
  return listener;
}

envoy::config::cluster::v3::Cluster MakeCluster(const ServiceTarget& target,
                                                const ServicePolicy& policy) {
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name(ClusterName(target));
  cluster.set_type(envoy::config::cluster::v3::Cluster::EDS);
  auto* eds = cluster.mutable_eds_cluster_config();
  eds->mutable_eds_config()->mutable_ads();
  eds->set_service_name(ClusterName(target));
  cluster.set_lb_policy(policy.lb_policy);
  if (policy.outlier_detection.has_value()) {
    *cluster.mutable_outlier_detection() = *policy.outlier_detection;
  }
  return cluster;
}

namespace {

// A Service without a ready endpoint. gRPC 1.51 leaves its weighted_target
// policy without children when no locality has an endpoint it can use (none
// HEALTHY), and the next picker it builds has nothing to pick from: the first
// call crashes the client (grpc/grpc#32486, fixed after 1.51; seen here on a
// scale to zero). So such an assignment keeps a locality (an empty one if
// there is none) and asks for every call to be dropped (drop_overloads at
// 100 %): gRPC's xds_cluster_impl drops before it asks weighted_target, and
// calls fail as UNAVAILABLE "EDS-configured drop: kube-grpc/no-ready-endpoints".
envoy::config::endpoint::v3::ClusterLoadAssignment& DropAllWithoutReady(
    envoy::config::endpoint::v3::ClusterLoadAssignment& out) {
  for (const auto& locality : out.endpoints()) {
    for (const auto& lb : locality.lb_endpoints()) {
      if (lb.health_status() == envoy::config::core::v3::HEALTHY) return out;
    }
  }
  if (out.endpoints_size() == 0) {
    auto* locality = out.add_endpoints();
    locality->mutable_locality();  // present, if empty: gRPC requires the field
    locality->mutable_load_balancing_weight()->set_value(1);
  }
  auto* drop = out.mutable_policy()->add_drop_overloads();
  drop->set_category(std::string(kNoReadyEndpointsDrop));
  drop->mutable_drop_percentage()->set_numerator(100);
  drop->mutable_drop_percentage()->set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
  return out;
}

}  // namespace

envoy::config::endpoint::v3::ClusterLoadAssignment MakeLoadAssignment(const ServiceTarget& target,
                                                                      const EndpointSet* set) {
  envoy::config::endpoint::v3::ClusterLoadAssignment out;
  out.set_cluster_name(ClusterName(target));
  if (set == nullptr) return DropAllWithoutReady(out);
  // Localities by zone only when the Service asks for zone preference (every
  // ready endpoint hinted, as kube-proxy requires); otherwise one locality, so that
  // gRPC's round_robin spreads over every pod instead of weighted_target
  // first drawing a zone at random (measured: 0.86x round_robin's throughput
  // with three one-pod zones, 0.99x with one locality).
  // (The API's controller hints ready endpoints only.)
  bool zones = set->ready_count() > 0;
  for (const Endpoint& e : set->all()) zones &= !e.ready || !e.for_zones.empty();
  std::map<std::string, envoy::config::endpoint::v3::LocalityLbEndpoints*> by_zone;
  for (const Endpoint& e : set->all()) {
    auto [it, added] = by_zone.emplace(zones ? e.zone : "", nullptr);
    if (added) {
      it->second = out.add_endpoints();
      it->second->mutable_locality()->set_zone(it->first);
    }
    auto* lb = it->second->add_lb_endpoints();
    auto* address = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
    address->set_address(e.address);
    address->set_port_value(static_cast<uint32_t>(e.port));
    lb->set_health_status(HealthOf(e));
  }
  // gRPC ignores a locality without a weight: weigh each by its endpoints.
  for (auto& [zone, locality] : by_zone) {
    locality->mutable_load_balancing_weight()->set_value(
        static_cast<uint32_t>(locality->lb_endpoints_size()));
  }
  return DropAllWithoutReady(out);
}

}  // namespace kubegrpc::xds
