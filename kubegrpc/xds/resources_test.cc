// The xDS resources for a Service: names, and how endpoints map to localities
// and health statuses.

#include "kubegrpc/xds/resources.h"

#include <map>
#include <string>
#include <vector>

#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::xds {
namespace {

using ::testing::HasSubstr;
namespace core = envoy::config::core::v3;

// A pod hinted for its own zone, as for a Service with trafficDistribution.
Endpoint Pod(const std::string& address, const std::string& zone, bool ready, bool serving = true,
             bool terminating = false) {
  Endpoint e;
  e.address = address;
  e.port = 8080;
  e.zone = zone;
  if (ready) e.for_zones = {zone};  // the API's controller hints ready endpoints only
  e.ready = ready;
  e.serving = serving;
  e.terminating = terminating;
  return e;
}

TEST(ResourcesTest, EverySpellingOfATargetNamesOneCluster) {
  for (const char* name : {"greeter.prod:50051", "greeter.prod.svc.cluster.local:50051",
                           "kubernetes:///greeter.prod:50051"}) {
    absl::StatusOr<ServiceTarget> t = ListenerTarget(name);
    ASSERT_TRUE(t.ok()) << name << ": " << t.status();
    EXPECT_EQ(ClusterName(*t), "prod/greeter:50051") << name;
  }
  absl::StatusOr<ServiceTarget> named = ListenerTarget("greeter.prod:grpc");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(ClusterName(*named), "prod/greeter:grpc");
  absl::StatusOr<ServiceTarget> back = ClusterTarget("prod/greeter:grpc");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *named);
}

TEST(ResourcesTest, NamesThatAreNotTargetsAreRejectedClearly) {
  absl::StatusOr<ServiceTarget> no_ns = ListenerTarget("greeter:50051");
  EXPECT_EQ(no_ns.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_ns.status().message(), HasSubstr("greeter.default:50051"));
  EXPECT_EQ(ListenerTarget("http://x").status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"", "prod", "prod/greeter", "greeter:80", "Prod/greeter:80",
                          "prod/greeter:80/x", "prod/gr eeter:80"}) {
    EXPECT_EQ(ClusterTarget(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ResourcesTest, ListenerRoutesEveryPathToTheServicesCluster) {
  ServiceTarget t = *ListenerTarget("greeter.prod:50051");
  envoy::config::listener::v3::Listener l = MakeListener("greeter.prod:50051", t);
  EXPECT_EQ(l.name(), "greeter.prod:50051");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&hcm));
  ASSERT_EQ(hcm.route_config().virtual_hosts_size(), 1);
  const auto& host = hcm.route_config().virtual_hosts(0);
  EXPECT_THAT(host.domains(), ::testing::ElementsAre("*"));
  ASSERT_EQ(host.routes_size(), 1);
  EXPECT_EQ(host.routes(0).match().prefix(), "");
  EXPECT_EQ(host.routes(0).route().cluster(), "prod/greeter:50051");
  // The router filter ends the chain (gRPC requires it).
  ASSERT_EQ(hcm.http_filters_size(), 1);
  EXPECT_TRUE(hcm.http_filters(0)
                  .typed_config()
                  .Is<envoy::extensions::filters::http::router::v3::Router>());

  envoy::config::cluster::v3::Cluster c = MakeCluster(t);
  EXPECT_EQ(c.name(), "prod/greeter:50051");
  EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::EDS);
  EXPECT_TRUE(c.eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(c.eds_cluster_config().service_name(), "prod/greeter:50051");
  EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
}

TEST(ResourcesTest, LoadAssignmentHasALocalityPerZoneAndHealthFromConditions) {
  ServiceTarget t = *ClusterTarget("prod/greeter:50051");
  std::shared_ptr<const EndpointSet> set = EndpointSet::Create({
      Pod("10.0.0.1", "zone-a", true),
      Pod("10.0.0.2", "zone-b", true),
      Pod("10.0.0.3", "zone-a", true),
      Pod("10.0.0.4", "zone-a", false, /*serving=*/true, /*terminating=*/true),
      Pod("10.0.0.5", "zone-b", false, /*serving=*/false),
      Pod("10.0.0.6", "", true),
  });
  envoy::config::endpoint::v3::ClusterLoadAssignment cla = MakeLoadAssignment(t, set.get());
  EXPECT_EQ(cla.cluster_name(), "prod/greeter:50051");
  std::map<std::string, std::map<std::string, core::HealthStatus>> seen;  // zone -> address
  std::map<std::string, uint32_t> weight;
  for (const auto& locality : cla.endpoints()) {
    weight[locality.locality().zone()] = locality.load_balancing_weight().value();
    for (const auto& lb : locality.lb_endpoints()) {
      const auto& a = lb.endpoint().address().socket_address();
      EXPECT_EQ(a.port_value(), 8080u);
      seen[locality.locality().zone()][a.address()] = lb.health_status();
    }
  }
  EXPECT_EQ(weight, (std::map<std::string, uint32_t>{{"", 1}, {"zone-a", 3}, {"zone-b", 2}}));
  EXPECT_EQ(seen["zone-a"]["10.0.0.1"], core::HEALTHY);
  EXPECT_EQ(seen["zone-a"]["10.0.0.3"], core::HEALTHY);
  EXPECT_EQ(seen["zone-a"]["10.0.0.4"], core::DRAINING);
  EXPECT_EQ(seen["zone-b"]["10.0.0.2"], core::HEALTHY);
  EXPECT_EQ(seen["zone-b"]["10.0.0.5"], core::UNHEALTHY);
  EXPECT_EQ(seen[""]["10.0.0.6"], core::HEALTHY);

  EXPECT_FALSE(cla.has_policy());  // ready endpoints: nothing dropped

  // Without a ready endpoint: a locality (an empty one if there is none) and
  // every call dropped, never an assignment gRPC 1.51 cannot pick from.
  auto not_ready = EndpointSet::Create({Pod("10.0.0.7", "zone-a", false, /*serving=*/false)});
  for (const auto& empty :
       {MakeLoadAssignment(t, nullptr), MakeLoadAssignment(t, EndpointSet::Create({}).get()),
        MakeLoadAssignment(t, not_ready.get())}) {
    ASSERT_EQ(empty.endpoints_size(), 1);
    EXPECT_TRUE(empty.endpoints(0).has_locality());
    EXPECT_GE(empty.endpoints(0).load_balancing_weight().value(), 1u);
    ASSERT_EQ(empty.policy().drop_overloads_size(), 1);
    EXPECT_EQ(empty.policy().drop_overloads(0).category(), kNoReadyEndpointsDrop);
    EXPECT_EQ(empty.policy().drop_overloads(0).drop_percentage().numerator(), 100u);
    EXPECT_EQ(empty.policy().drop_overloads(0).drop_percentage().denominator(),
              envoy::type::v3::FractionalPercent::HUNDRED);
  }
}

TEST(ResourcesTest, WithoutZoneHintsEveryEndpointIsInOneLocality) {
  ServiceTarget t = *ClusterTarget("prod/greeter:50051");
  std::vector<Endpoint> pods = {Pod("10.0.0.1", "zone-a", true), Pod("10.0.0.2", "zone-b", true),
                                Pod("10.0.0.3", "zone-c", true)};
  pods[1].for_zones.clear();  // one endpoint without hints: no zone preference
  envoy::config::endpoint::v3::ClusterLoadAssignment cla =
      MakeLoadAssignment(t, EndpointSet::Create(pods).get());
  ASSERT_EQ(cla.endpoints_size(), 1);
  EXPECT_EQ(cla.endpoints(0).lb_endpoints_size(), 3);
  EXPECT_EQ(cla.endpoints(0).load_balancing_weight().value(), 3u);
  EXPECT_EQ(cla.endpoints(0).locality().zone(), "");
}

TEST(ResourcesTest, AnnotationsSetTheLbPolicyOutlierDetectionAndRetries) {
  ServicePolicy p = PolicyFromAnnotations({
      {"kube-grpc.io/lb-policy", "round_robin"},
      {"kube-grpc.io/outlier-detection",
       R"({"interval": "5s", "baseEjectionTime": "20s", "maxEjectionPercent": 30,
           "failurePercentageEjection": {"threshold": 50, "minimumHosts": 3}})"},
      {"kube-grpc.io/retry",
       R"({"retryOn": "unavailable, cancelled", "numRetries": 3, "baseInterval": "0.05s",
           "maxInterval": "1s"})"},
  });
  EXPECT_THAT(p.errors, ::testing::IsEmpty());
  ServiceTarget t = *ClusterTarget("prod/greeter:50051");
  envoy::config::cluster::v3::Cluster c = MakeCluster(t, p);
  EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  ASSERT_TRUE(c.has_outlier_detection());
  const auto& od = c.outlier_detection();
  EXPECT_EQ(od.interval().seconds(), 5);
  EXPECT_EQ(od.base_ejection_time().seconds(), 20);
  EXPECT_EQ(od.max_ejection_percent().value(), 30u);
  EXPECT_EQ(od.failure_percentage_threshold().value(), 50u);
  EXPECT_EQ(od.failure_percentage_minimum_hosts().value(), 3u);
  EXPECT_EQ(od.enforcing_failure_percentage().value(), 100u);  // asked for: on
  EXPECT_EQ(od.enforcing_success_rate().value(), 0u);          // not asked for: off (A50)

  envoy::config::listener::v3::Listener l = MakeListener("greeter.prod:50051", t, p);
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&hcm));
  const auto& retry = hcm.route_config().virtual_hosts(0).routes(0).route().retry_policy();
  EXPECT_EQ(retry.retry_on(), "unavailable, cancelled");
  EXPECT_EQ(retry.num_retries().value(), 3u);
  EXPECT_EQ(retry.retry_back_off().base_interval().nanos(), 50000000);
  EXPECT_EQ(retry.retry_back_off().max_interval().seconds(), 1);

  // Without annotations: round_robin, nothing else.
  envoy::config::cluster::v3::Cluster plain = MakeCluster(t, PolicyFromAnnotations({}));
  EXPECT_EQ(plain.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_FALSE(plain.has_outlier_detection());
}

TEST(ResourcesTest, AnnotationsThatCannotBeUsedAreNamedAndTheDefaultsKept) {
  ServicePolicy p = PolicyFromAnnotations({
      {"kube-grpc.io/lb-policy", "least_request"},
      {"kube-grpc.io/outlier-detection", R"({"interval": "soon"})"},
      {"kube-grpc.io/retry", R"({"retryOn": "unavailable,teapot"})"},
      {"kube-grpc.io/retries", "{}"},
      {"kube-grpc.io/lb-polcy", "round_robin"},
  });
  EXPECT_EQ(p.lb_policy, envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_FALSE(p.outlier_detection.has_value());
  EXPECT_FALSE(p.retry.has_value());
  ASSERT_EQ(p.errors.size(), 5u);
  EXPECT_THAT(p.errors,
              ::testing::Contains(HasSubstr("kube-grpc.io/lb-policy: \"least_request\"")));
  EXPECT_THAT(p.errors,
              ::testing::Contains(HasSubstr("outlier-detection: interval has a bad value")));
  EXPECT_THAT(p.errors, ::testing::Contains(HasSubstr("retry: retryOn has a bad value")));
  EXPECT_THAT(p.errors, ::testing::Contains(HasSubstr("kube-grpc.io/lb-polcy: not an annotation")));
  ServicePolicy ring = PolicyFromAnnotations({{"kube-grpc.io/lb-policy", "ring_hash"}});
  EXPECT_EQ(ring.lb_policy, envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  ASSERT_EQ(ring.errors.size(), 1u);
  EXPECT_THAT(ring.errors[0], HasSubstr("ring_hash crashes gRPC 1.51"));
  for (const char* bad : {"[1]", "not json", R"({"numRetries": 2})", R"({"retryOn": 5})",
                          R"({"retryOn": "unavailable", "numRetries": -1})"}) {
    ServicePolicy q = PolicyFromAnnotations({{"kube-grpc.io/retry", bad}});
    EXPECT_FALSE(q.retry.has_value()) << bad;
    EXPECT_EQ(q.errors.size(), 1u) << bad;
  }
}

}  // namespace
}  // namespace kubegrpc::xds
