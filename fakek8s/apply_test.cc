// Server-side apply: create, idempotence, removal of fields a manager stops
// applying, conflicts between managers and force.

#include "fakek8s/apply.h"

#include "fakek8s/api_errors.h"
#include "fakek8s/resources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

json Service(int target_port, bool with_metrics = false) {
  json ports = json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", target_port}}});
  if (with_metrics) ports.push_back({{"name", "metrics"}, {"port", 9100}});
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", "web"}, {"labels", {{"app", "web"}}}}},
          {"spec", {{"selector", {{"app", "web"}}}, {"ports", ports}}}};
}

ApplyOptions As(const std::string& manager, bool force = false) {
  ApplyOptions options;
  options.field_manager = manager;
  options.force = force;
  return options;
}

json Apply(const json& live, const json& config, const ApplyOptions& options) {
  absl::StatusOr<json> checked =
      CheckAppliedConfiguration(config, Info(Resource::kServices), "demo", "web", options);
  EXPECT_TRUE(checked.ok()) << checked.status();
  if (!checked.ok()) return json();
  absl::StatusOr<json> out = ServerSideApply(live, *checked, Resource::kServices, options);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : json();
}

TEST(ApplyTest, CreatesAndRecordsTheManagersFields) {
  json created = Apply(nullptr, Service(8080), As("kubectl"));
  EXPECT_EQ(created["metadata"]["namespace"], "demo");
  ASSERT_EQ(created["metadata"]["managedFields"].size(), 1u);
  const json& entry = created["metadata"]["managedFields"][0];
  EXPECT_EQ(entry["manager"], "kubectl");
  EXPECT_EQ(entry["operation"], "Apply");
  EXPECT_EQ(entry["fieldsType"], "FieldsV1");
  // Ports are keyed by port and protocol, the protocol's default filled in.
  const json& ports = entry["fieldsV1"]["f:spec"]["f:ports"];
  ASSERT_TRUE(ports.contains("k:{\"port\":80,\"protocol\":\"TCP\"}")) << ports.dump();
  EXPECT_TRUE(ports["k:{\"port\":80,\"protocol\":\"TCP\"}"].contains("."));
  EXPECT_TRUE(entry["fieldsV1"]["f:metadata"]["f:labels"].contains("f:app"));
  EXPECT_FALSE(entry["fieldsV1"]["f:metadata"].contains("f:name"));
}

TEST(ApplyTest, ApplyingAgainChangesNothingAndAChangeMergesByKey) {
  json live = Apply(nullptr, Service(8080), As("kubectl"));
  for (int i = 0; i < 3; ++i) live = Apply(live, Service(8080), As("kubectl"));
  EXPECT_EQ(live["spec"]["ports"].size(), 1u) << live.dump();
  EXPECT_EQ(live["metadata"]["managedFields"].size(), 1u);
  live = Apply(live, Service(8081), As("kubectl"));
  ASSERT_EQ(live["spec"]["ports"].size(), 1u);
  EXPECT_EQ(live["spec"]["ports"][0]["targetPort"], 8081);
  EXPECT_EQ(live["spec"]["ports"][0]["name"], "grpc");
}

TEST(ApplyTest, FieldsNoLongerAppliedAreRemoved) {
  json live = Apply(nullptr, Service(8080, /*with_metrics=*/true), As("kubectl"));
  ASSERT_EQ(live["spec"]["ports"].size(), 2u);
  json config = Service(8080);
  config["metadata"].erase("labels");
  live = Apply(live, config, As("kubectl"));
  EXPECT_EQ(live["spec"]["ports"].size(), 1u) << live.dump();
  EXPECT_FALSE(live["metadata"].contains("labels") && live["metadata"]["labels"].contains("app"))
      << live.dump();
  // ...but not those someone else wrote outside apply (they are not owned).
  live["spec"]["sessionAffinity"] = "ClientIP";
  live = Apply(live, config, As("kubectl"));
  EXPECT_EQ(live["spec"]["sessionAffinity"], "ClientIP");
}

TEST(ApplyTest, AnotherManagersFieldIsAConflictUnlessForced) {
  json live = Apply(nullptr, Service(8080), As("kubectl"));
  json other = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", "web"}}},
                {"spec", {{"ports", json::array({{{"port", 80}, {"targetPort", 9999}}})}}}};
  absl::StatusOr<json> checked =
      CheckAppliedConfiguration(other, Info(Resource::kServices), "demo", "web", As("helm"));
  ASSERT_TRUE(checked.ok());
  absl::StatusOr<json> refused = ServerSideApply(live, *checked, Resource::kServices, As("helm"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(HttpCode(refused.status()), 409);
  EXPECT_THAT(refused.status().message(), HasSubstr("conflict with \"kubectl\""));
  EXPECT_THAT(refused.status().message(),
              HasSubstr(".spec.ports[port=80,protocol=\"TCP\"].targetPort"));

  json forced = Apply(live, other, As("helm", /*force=*/true));
  EXPECT_EQ(forced["spec"]["ports"][0]["targetPort"], 9999);
  ASSERT_EQ(forced["metadata"]["managedFields"].size(), 2u);
  // The field moved: kubectl no longer owns targetPort, helm does.
  const json& kubectl = forced["metadata"]["managedFields"][0];
  EXPECT_EQ(kubectl["manager"], "kubectl");
  EXPECT_FALSE(
      kubectl["fieldsV1"]["f:spec"]["f:ports"]["k:{\"port\":80,\"protocol\":\"TCP\"}"].contains(
          "f:targetPort"));
  // The same value is no conflict: both own it.
  json same = other;
  json again = Apply(forced, same, As("argo"));
  EXPECT_EQ(again["metadata"]["managedFields"].size(), 3u);
}

TEST(ApplyTest, ItemsAnotherManagerAlsoAppliesAreKept) {
  json live = Apply(nullptr, Service(8080, /*with_metrics=*/true), As("a"));
  live = Apply(live, Service(8080, /*with_metrics=*/true), As("b"));
  live = Apply(live, Service(8080), As("a"));  // a drops metrics; b still applies it
  EXPECT_EQ(live["spec"]["ports"].size(), 2u) << live.dump();
}

TEST(ApplyTest, StatusIsAppliedOnlyThroughTheSubresource) {
  json config = Service(8080);
  config["status"] = {{"loadBalancer", {{"ingress", json::array({{{"ip", "10.0.0.1"}}})}}}};
  json live = Apply(nullptr, config, As("kubectl"));
  EXPECT_FALSE(live.contains("status"));
  ApplyOptions status = As("lb-controller");
  status.status_subresource = true;
  live = Apply(live, config, status);
  EXPECT_EQ(live["status"]["loadBalancer"]["ingress"][0]["ip"], "10.0.0.1");
  EXPECT_EQ(live["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(live["metadata"]["managedFields"][1]["subresource"], "status");
}

TEST(ApplyTest, BadConfigurationsAreClearErrors) {
  const ResourceInfo& info = Info(Resource::kServices);
  EXPECT_THAT(CheckAppliedConfiguration(Service(1), info, "demo", "web", As("")).status().message(),
              HasSubstr("fieldManager: Required value"));
  json no_kind = Service(1);
  no_kind.erase("kind");
  EXPECT_THAT(CheckAppliedConfiguration(no_kind, info, "demo", "web", As("m")).status().message(),
              HasSubstr("must set apiVersion and kind"));
  json pod = Service(1);
  pod["kind"] = "Pod";
  EXPECT_THAT(CheckAppliedConfiguration(pod, info, "demo", "web", As("m")).status().message(),
              HasSubstr("not a v1 Service"));
  EXPECT_THAT(
      CheckAppliedConfiguration(Service(1), info, "demo", "other", As("m")).status().message(),
      HasSubstr("does not match the name on the URL"));
  json keyless = Service(1);
  keyless["spec"]["ports"] = json::array({{{"targetPort", 1}}});
  absl::StatusOr<json> checked = CheckAppliedConfiguration(keyless, info, "demo", "web", As("m"));
  ASSERT_TRUE(checked.ok());
  absl::StatusOr<json> out = ServerSideApply(nullptr, *checked, Resource::kServices, As("m"));
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("lacks its key field \"port\""));
}

}  // namespace
}  // namespace fakek8s
