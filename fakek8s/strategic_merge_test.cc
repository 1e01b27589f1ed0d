// Strategic merge patch as kubectl sends it: lists merged by the keys of the
// real types, and the directives.

#include "fakek8s/strategic_merge.h"

#include "fakek8s/resources.h"
#include "fakek8s/schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

json Patch(const json& original, const json& patch, Resource resource) {
  absl::StatusOr<json> out = StrategicMergePatch(original, patch, schema::ForResource(resource));
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : json();
}

const json kService = {
    {"apiVersion", "v1"},
    {"kind", "Service"},
    {"metadata", {{"name", "web"}, {"namespace", "demo"}}},
    {"spec",
     {{"selector", {{"app", "web"}}},
      {"ports", json::array({{{"name", "grpc"}, {"port", 9000}, {"targetPort", 9090}},
                             {{"name", "metrics"}, {"port", 9100}, {"targetPort", 9100}}})}}}};

TEST(StrategicMergeTest, KubectlApplyOfAChangedTargetPortMergesByPort) {
  // What `kubectl apply` sends when only the targetPort of one port changed.
  json patch = {{"spec",
                 {{"$setElementOrder/ports", json::array({{{"port", 9000}}, {{"port", 9100}}})},
                  {"ports", json::array({{{"port", 9000}, {"targetPort", 9091}}})}}}};
  json out = Patch(kService, patch, Resource::kServices);
  ASSERT_EQ(out["spec"]["ports"].size(), 2u) << out.dump();
  EXPECT_EQ(out["spec"]["ports"][0],
            json({{"name", "grpc"}, {"port", 9000}, {"targetPort", 9091}}));
  EXPECT_EQ(out["spec"]["ports"][1]["name"], "metrics");
}

TEST(StrategicMergeTest, DeleteAndReplaceDirectives) {
  json remove = {{"spec", {{"ports", json::array({{{"$patch", "delete"}, {"port", 9100}}})}}}};
  json out = Patch(kService, remove, Resource::kServices);
  ASSERT_EQ(out["spec"]["ports"].size(), 1u);
  EXPECT_EQ(out["spec"]["ports"][0]["name"], "grpc");

  json replace = {{"spec", {{"ports", json::array({{{"port", 80}}, {{"$patch", "replace"}}})}}}};
  out = Patch(kService, replace, Resource::kServices);
  EXPECT_EQ(out["spec"]["ports"], json::array({{{"port", 80}}}));

  json whole = {{"spec", {{"$patch", "replace"}, {"selector", {{"app", "api"}}}}}};
  out = Patch(kService, whole, Resource::kServices);
  EXPECT_EQ(out["spec"], json({{"selector", {{"app", "api"}}}}));

  json drop = {{"spec", {{"$patch", "delete"}}}};
  out = Patch(kService, drop, Resource::kServices);
  EXPECT_FALSE(out.contains("spec"));
}

TEST(StrategicMergeTest, TheSelectorIsReplacedNotMerged) {
  json patch = {{"spec", {{"selector", {{"tier", "front"}}}}}};
  json out = Patch(kService, patch, Resource::kServices);
  EXPECT_EQ(out["spec"]["selector"], json({{"tier", "front"}}));
  // Labels are a plain map: merged, null deletes.
  json labelled = kService;
  labelled["metadata"]["labels"] = {{"a", "1"}, {"b", "2"}};
  out = Patch(labelled, {{"metadata", {{"labels", {{"a", nullptr}, {"c", "3"}}}}}},
              Resource::kServices);
  EXPECT_EQ(out["metadata"]["labels"], json({{"b", "2"}, {"c", "3"}}));
}

TEST(StrategicMergeTest, PodListsMergeByTheirOwnKeys) {
  json pod = {
      {"spec",
       {{"containers",
         json::array({{{"name", "web"},
                       {"image", "web:1"},
                       {"ports", json::array({{{"containerPort", 8080}, {"name", "http"}}})},
                       {"env", json::array({{{"name", "A"}, {"value", "1"}}})}}})}}},
      {"status",
       {{"conditions", json::array({{{"type", "Ready"}, {"status", "False"}},
                                    {{"type", "PodScheduled"}, {"status", "True"}}})}}}};
  json patch = {
      {"spec",
       {{"containers", json::array({{{"name", "web"},
                                     {"image", "web:2"},
                                     {"ports", json::array({{{"containerPort", 9090}}})},
                                     {"env", json::array({{{"name", "B"}, {"value", "2"}}})}},
                                    {{"name", "sidecar"}, {"image", "proxy"}}})}}},
      {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  json out = Patch(pod, patch, Resource::kPods);
  ASSERT_EQ(out["spec"]["containers"].size(), 2u);
  const json& web = out["spec"]["containers"][0];
  EXPECT_EQ(web["image"], "web:2");
  EXPECT_EQ(web["ports"].size(), 2u);  // by containerPort
  EXPECT_EQ(web["env"].size(), 2u);    // by name
  EXPECT_EQ(out["spec"]["containers"][1]["name"], "sidecar");
  ASSERT_EQ(out["status"]["conditions"].size(), 2u);  // by type
  EXPECT_EQ(out["status"]["conditions"][0]["status"], "True");
}

TEST(StrategicMergeTest, SetElementOrderKeepsServerOnlyItemsInPlace) {
  json original = {{"metadata", {{"finalizers", {"a", "b", "server-only", "c"}}}}};
  json patch = {{"metadata", {{"$setElementOrder/finalizers", {"c", "b", "a"}}}}};
  json out = Patch(original, patch, Resource::kServices);
  EXPECT_EQ(out["metadata"]["finalizers"], json({"c", "b", "server-only", "a"}));

  // Finalizers are a set: merged without duplicates; and removed by directive.
  out = Patch(
      original,
      {{"metadata", {{"finalizers", {"a", "d"}}, {"$deleteFromPrimitiveList/finalizers", {"b"}}}}},
      Resource::kServices);
  EXPECT_EQ(out["metadata"]["finalizers"], json({"a", "server-only", "c", "d"}));
}

TEST(StrategicMergeTest, RetainKeysClearsTheOthers) {
  json original = {
      {"spec", {{"volumes", json::array({{{"name", "v"}, {"emptyDir", json::object()}}})}}}};
  json patch = {{"spec",
                 {{"volumes", json::array({{{"name", "v"},
                                            {"$retainKeys", {"name", "configMap"}},
                                            {"configMap", {{"name", "cm"}}}}})}}}};
  json out = Patch(original, patch, Resource::kPods);
  EXPECT_EQ(out["spec"]["volumes"][0], json({{"name", "v"}, {"configMap", {{"name", "cm"}}}}));
}

TEST(StrategicMergeTest, ListsWithoutAStrategyAreReplaced) {
  json slice = {{"endpoints", json::array({{{"addresses", {"10.0.0.1"}}}})}};
  json out = Patch(slice, {{"endpoints", json::array({{{"addresses", {"10.0.0.2"}}}})}},
                   Resource::kEndpointSlices);
  EXPECT_EQ(out["endpoints"], json::array({{{"addresses", {"10.0.0.2"}}}}));
}

TEST(StrategicMergeTest, ShapesThatCannotMergeAreClearErrors) {
  absl::StatusOr<json> out =
      StrategicMergePatch(kService, {{"spec", {{"ports", json::array({{{"targetPort", 1}}})}}}},
                          schema::ForResource(Resource::kServices));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("spec.ports"));
  EXPECT_THAT(out.status().message(), HasSubstr("merge key \"port\""));
  out = StrategicMergePatch(kService, json::array(), nullptr);
  EXPECT_FALSE(out.ok());
  out = StrategicMergePatch(kService, {{"spec", {{"$patch", "frobnicate"}}}}, nullptr);
  EXPECT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("frobnicate"));
}

}  // namespace
}  // namespace fakek8s
