// The store's list semantics (pages, continue tokens, resourceVersionMatch) and
// the server-side defaults of Services and Pods.

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/object_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using ::testing::HasSubstr;

json Pod(const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", json::array({{{"name", "web"}}})}}}};
}

std::vector<std::string> Names(const ObjectStore::ListResult& list) {
  std::vector<std::string> out;
  for (const json& item : list.items) out.push_back(item["metadata"]["name"]);
  return out;
}

class ListTest : public ::testing::Test {
 protected:
  ListTest() {
    EXPECT_TRUE(store_.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
    for (const char* name : {"a", "b", "c", "d", "e"}) {
      EXPECT_TRUE(store_.Create(Resource::kPods, Pod(name)).ok());
    }
  }
  absl::StatusOr<ObjectStore::ListResult> List(ObjectStore::ListOptions options) {
    return store_.List(Resource::kPods, "demo", options);
  }
  ObjectStore store_;
};

TEST_F(ListTest, PagesAreConsistentWhateverChangesBetweenThem) {
  absl::StatusOr<ObjectStore::ListResult> first = List({.limit = 2});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Names(*first), ::testing::ElementsAre("a", "b"));
  ASSERT_FALSE(first->continue_token.empty());
  EXPECT_EQ(first->remaining_item_count, 3);
  // Between pages: one pod goes, one comes, one changes.
  ASSERT_TRUE(store_.Delete(Resource::kPods, "demo", "c").ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("bb")).ok());
  ASSERT_TRUE(store_
                  .Mutate(Resource::kPods, "demo", "d",
                          [](json& p) {
                            p["metadata"]["labels"]["changed"] = "yes";
                            return absl::OkStatus();
                          })
                  .ok());
  absl::StatusOr<ObjectStore::ListResult> second =
      List({.limit = 2, .continue_token = first->continue_token});
  ASSERT_TRUE(second.ok()) << second.status();
  // The state at the first page's resourceVersion: c is there, bb is not, d unchanged.
  EXPECT_THAT(Names(*second), ::testing::ElementsAre("c", "d"));
  EXPECT_EQ(second->resource_version, first->resource_version);
  EXPECT_FALSE(second->items[1]["metadata"]["labels"].contains("changed"));
  absl::StatusOr<ObjectStore::ListResult> last = List({.continue_token = second->continue_token});
  ASSERT_TRUE(last.ok());
  EXPECT_THAT(Names(*last), ::testing::ElementsAre("e"));
  EXPECT_TRUE(last->continue_token.empty());
  // A new list sees today's state.
  EXPECT_THAT(Names(*List({})), ::testing::ElementsAre("a", "b", "bb", "d", "e"));
}

TEST_F(ListTest, SelectorsPageToo) {
  ObjectStore::ListOptions options;
  options.limit = 2;
  options.labels = *LabelSelector::Parse("app=web");
  absl::StatusOr<ObjectStore::ListResult> first = List(options);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->items.size(), 2u);
  EXPECT_FALSE(first->remaining_item_count.has_value());  // not counted with a selector
  options.continue_token = first->continue_token;
  options.limit = 0;
  EXPECT_THAT(Names(*List(options)), ::testing::ElementsAre("c", "d", "e"));
}

TEST_F(ListTest, TokensAreCheckedAndExpire) {
  absl::StatusOr<ObjectStore::ListResult> first = List({.limit = 1});
  ASSERT_TRUE(first.ok());
  absl::StatusOr<ObjectStore::ListResult> bad = List({.continue_token = "!!not-a-token"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(HttpCode(bad.status()), 400);
  EXPECT_THAT(bad.status().message(), HasSubstr("continue key is not valid"));
  bad = List({.resource_version = "5", .continue_token = first->continue_token});
  EXPECT_EQ(HttpCode(bad.status()), 400);
  // Compaction: the page's state can no longer be rebuilt.
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("f")).ok());
  store_.Compact();
  absl::StatusOr<ObjectStore::ListResult> expired = List({.continue_token = first->continue_token});
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(HttpCode(expired.status()), 410);
}

TEST_F(ListTest, ResourceVersionMatch) {
  const std::string before = store_.CurrentResourceVersion();
  ASSERT_TRUE(store_.Delete(Resource::kPods, "demo", "a").ok());
  absl::StatusOr<ObjectStore::ListResult> exact =
      List({.resource_version = before, .resource_version_match = "Exact"});
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->resource_version, before);
  EXPECT_EQ(exact->items.size(), 5u);  // a was still there
  absl::StatusOr<ObjectStore::ListResult> newer =
      List({.resource_version = before, .resource_version_match = "NotOlderThan"});
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(newer->items.size(), 4u);
  EXPECT_EQ(newer->resource_version, store_.CurrentResourceVersion());

  EXPECT_EQ(HttpCode(List({.resource_version_match = "Exact"}).status()), 400);
  EXPECT_EQ(HttpCode(List({.resource_version = "0", .resource_version_match = "Exact"}).status()),
            400);
  EXPECT_EQ(
      HttpCode(List({.resource_version = "1", .resource_version_match = "Sometimes"}).status()),
      400);
  EXPECT_EQ(HttpCode(List({.resource_version = "x"}).status()), 400);
  store_.Compact();
  absl::StatusOr<ObjectStore::ListResult> old =
      List({.resource_version = before, .resource_version_match = "Exact"});
  EXPECT_EQ(HttpCode(old.status()), 410);
  EXPECT_THAT(old.status().message(), HasSubstr("too old resource version"));
  // Ahead of the store: the real server's 504 with the ResourceVersionTooLarge cause.
  absl::StatusOr<ObjectStore::ListResult> future =
      List({.resource_version = "999999", .resource_version_match = "NotOlderThan"});
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(HttpCode(future.status()), 504);
  json status = ToStatusObject(future.status());
  EXPECT_EQ(status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
}

TEST(DefaultsTest, ServicesGetAClusterIpAndTheirDefaults) {
  ObjectStore store;
  std::set<std::string> ips;
  std::string first_ip;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<json> svc =
        store.Create(Resource::kServices,
                     {{"metadata", {{"name", absl::StrCat("s", i)}, {"namespace", "default"}}},
                      {"spec", {{"ports", json::array({{{"port", 80}}})}}}});
    ASSERT_TRUE(svc.ok()) << svc.status();
    const json& spec = (*svc)["spec"];
    const std::string ip = spec["clusterIP"];
    EXPECT_TRUE(absl::StartsWith(ip, "10.")) << ip;
    EXPECT_EQ(spec["clusterIPs"], json::array({ip}));
    EXPECT_EQ(spec["ipFamilies"], json::array({"IPv4"}));
    EXPECT_EQ(spec["ipFamilyPolicy"], "SingleStack");
    EXPECT_EQ(spec["sessionAffinity"], "None");
    EXPECT_EQ(spec["internalTrafficPolicy"], "Cluster");
    EXPECT_EQ(spec["type"], "ClusterIP");
    EXPECT_EQ(spec["ports"][0]["targetPort"], 80);
    ips.insert(ip);
    if (i == 0) first_ip = ip;
  }
  EXPECT_EQ(ips.size(), 20u);  // all different
  absl::StatusOr<json> headless = store.Create(
      Resource::kServices,
      {{"metadata", {{"name", "h"}, {"namespace", "default"}}}, {"spec", {{"clusterIP", "None"}}}});
  ASSERT_TRUE(headless.ok());
  EXPECT_EQ((*headless)["spec"]["clusterIP"], "None");
  absl::StatusOr<json> node_port =
      store.Create(Resource::kServices,
                   {{"metadata", {{"name", "np"}, {"namespace", "default"}}},
                    {"spec", {{"type", "NodePort"}, {"ports", json::array({{{"port", 80}}})}}}});
  ASSERT_TRUE(node_port.ok());
  const int64_t allocated = (*node_port)["spec"]["ports"][0]["nodePort"];
  EXPECT_GE(allocated, 30000);
  EXPECT_LE(allocated, 32767);

  // An update that leaves the IP out keeps it; one that changes it is refused.
  json replaced = {{"metadata", {{"name", "s0"}, {"namespace", "default"}}},
                   {"spec", {{"ports", json::array({{{"port", 81}}})}}}};
  absl::StatusOr<json> kept = store.Update(Resource::kServices, replaced);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ((*kept)["spec"]["clusterIP"], first_ip);
  replaced["spec"]["clusterIP"] = "10.96.0.77";
  absl::StatusOr<json> changed = store.Update(Resource::kServices, replaced);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(HttpCode(changed.status()), 422);
  EXPECT_THAT(changed.status().message(), HasSubstr("may not change once set"));
}

TEST(DefaultsTest, PodsGetAPhaseAndAQosClass) {
  ObjectStore store;
  absl::StatusOr<json> best =
      store.Create(Resource::kPods,
                   {{"metadata", {{"name", "p"}, {"namespace", "default"}}},
                    {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "web"}}})}}}});
  ASSERT_TRUE(best.ok());
  EXPECT_EQ((*best)["status"]["phase"], "Pending");
  EXPECT_EQ((*best)["status"]["qosClass"], "BestEffort");
  EXPECT_EQ((*best)["spec"]["restartPolicy"], "Always");
  EXPECT_EQ((*best)["spec"]["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ((*best)["spec"]["containers"][0]["imagePullPolicy"], "Always");  // no tag

  json limits = {{"cpu", "500m"}, {"memory", "128Mi"}};
  absl::StatusOr<json> guaranteed = store.Create(
      Resource::kPods,
      {{"metadata", {{"name", "g"}, {"namespace", "default"}}},
       {"spec",
        {{"containers",
          json::array(
              {{{"name", "c"}, {"image", "web:1.2"}, {"resources", {{"limits", limits}}}}})}}}});
  ASSERT_TRUE(guaranteed.ok());
  EXPECT_EQ((*guaranteed)["status"]["qosClass"], "Guaranteed");
  EXPECT_EQ((*guaranteed)["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

  absl::StatusOr<json> burstable = store.Create(
      Resource::kPods,
      {{"metadata", {{"name", "b"}, {"namespace", "default"}}},
       {"spec",
        {{"containers",
          json::array({{{"name", "c"}, {"resources", {{"requests", {{"cpu", "100m"}}}}}}})}}},
       {"status", {{"phase", "Running"}}}});
  ASSERT_TRUE(burstable.ok());
  EXPECT_EQ((*burstable)["status"]["qosClass"], "Burstable");
  EXPECT_EQ((*burstable)["status"]["phase"], "Running");  // as written
}

}  // namespace
}  // namespace fakek8s
