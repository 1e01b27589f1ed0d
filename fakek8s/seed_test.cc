#include "fakek8s/seed.h"

#include "fakek8s/endpoint_controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using ::testing::HasSubstr;

TEST(SeedTest, DemoCreatesAServiceWithReadyEndpoints) {
  ObjectStore store;
  EndpointController controller;
  controller.Attach(store);
  ASSERT_TRUE(SeedDemo(store, {.ns = "demo", .service = "web", .replicas = 3}).ok());
  auto slices = store.List(Resource::kEndpointSlices, "demo").items;
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0]["endpoints"].size(), 3u);
  EXPECT_EQ(slices[0]["endpoints"][2]["addresses"][0], "127.0.10.3");
  EXPECT_EQ(slices[0]["ports"][0]["port"], 8080);
  EXPECT_FALSE(SeedDemo(store, {.ns = "demo", .service = "web"}).ok());  // exists
  EXPECT_EQ(SeedDemo(store, {.replicas = 999}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SeedTest, ManifestsInYamlAndJson) {
  ObjectStore store;
  EndpointController controller;
  controller.Attach(store);
  const char* yaml = R"(
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: prod
spec:
  selector: {app: api}
  ports:
  - {name: grpc, port: 443, targetPort: grpc}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: api-0, namespace: prod, labels: {app: api}}
  spec:
    containers:
    - name: c
      ports: [{name: grpc, containerPort: 9443}]
  status:
    phase: Running
    podIP: "127.0.20.1"
    conditions: [{type: Ready, status: "True"}]
)";
  ASSERT_TRUE(SeedFromManifests(store, yaml).ok());
  auto slices = store.List(Resource::kEndpointSlices, "prod").items;
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0]["ports"][0]["port"], 9443);
  EXPECT_EQ(slices[0]["endpoints"][0]["conditions"]["ready"], true);

  ASSERT_TRUE(SeedFromManifests(store, R"({"kind":"Namespace","metadata":{"name":"x"}})").ok());
  EXPECT_TRUE(store.Get(Resource::kNamespaces, "", "x").ok());
}

TEST(SeedTest, BadManifestsAreClearErrors) {
  ObjectStore store;
  absl::Status s = SeedFromManifests(store, "kind: Deployment\nmetadata: {name: d}\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("kind \"Deployment\" is not served"));
  s = SeedFromManifests(store, "a: [unclosed");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("invalid manifest"));
  s = SeedFromManifests(store, "- 1\n- 2\n");
  EXPECT_THAT(s.message(), HasSubstr("manifest document 1: not an object"));
  s = SeedFromManifests(store, "kind: Pod\nmetadata: {name: BAD}\n");
  EXPECT_THAT(s.message(), HasSubstr("manifest document 1: Pod \"BAD\" is invalid"));
}

TEST(SeedTest, YamlScalarsBecomeJsonTypes) {
  auto j = YamlToJson("a: 1\nb: true\nc: \"1\"\nd: x\ne: 1.5\nf: null\n");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["a"], 1);
  EXPECT_EQ((*j)["b"], true);
  EXPECT_EQ((*j)["c"], "1");
  EXPECT_EQ((*j)["d"], "x");
  EXPECT_EQ((*j)["e"], 1.5);
  EXPECT_TRUE((*j)["f"].is_null());
}

TEST(SeedTest, RbacRulesFromTheRolesOfAManifest) {
  absl::StatusOr<std::vector<RbacRule>> rules = RbacRulesFromRoles(R"(
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: demo}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: discovery, namespace: demo}
rules:
  - {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
  - {apiGroups: [""], resources: [services], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: nodes}
rules:
  - {apiGroups: [""], resources: [nodes], verbs: [get]}
)");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 3u);
  EXPECT_EQ((*rules)[0].resources, std::vector<std::string>{"endpointslices"});
  EXPECT_EQ((*rules)[0].verbs, (std::vector<std::string>{"list", "watch"}));
  EXPECT_EQ((*rules)[1].namespaces, std::vector<std::string>{"demo"});
  EXPECT_EQ((*rules)[2].resources, std::vector<std::string>{"nodes"});
  EXPECT_TRUE((*rules)[2].namespaces.empty());  // everywhere, cluster-scoped too
  for (const char* bad : {"kind: Service", "kind: Role\nrules: [{verbs: [get]}]", "a: [b"}) {
    EXPECT_EQ(RbacRulesFromRoles(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace fakek8s
