// Over HTTP, what kubectl and client libraries rely on beyond get/list/watch:
// server-side apply bodies, Table watches, protobuf reviews, health, OpenAPI.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fakek8s/fake_kubernetes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace fakek8s {
namespace {

using ::testing::HasSubstr;

class ApiFidelityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k8s = FakeKubernetes::Start();
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    ASSERT_TRUE(
        k8s_->store().Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", k8s_->server().port());
    client_->set_read_timeout(30);
  }
  std::unique_ptr<FakeKubernetes> k8s_;
  std::unique_ptr<httplib::Client> client_;
};

constexpr char kServicePath[] = "/api/v1/namespaces/demo/services/api";

TEST_F(ApiFidelityTest, ServerSideApplyCreatesFromYamlThenUpdates) {
  const std::string yaml =
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports:\n  - port: 80\n";
  const std::string path = absl::StrCat(kServicePath, "?fieldManager=test");
  httplib::Result created = client_->Patch(path, yaml, "application/apply-patch+yaml");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201) << created->body;
  json svc = json::parse(created->body);
  EXPECT_EQ(svc["metadata"]["managedFields"][0]["manager"], "test");
  EXPECT_FALSE(svc["spec"]["clusterIP"].get<std::string>().empty());
  httplib::Result again = client_->Patch(path, yaml, "application/apply-patch+yaml");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body)["metadata"]["resourceVersion"],
            svc["metadata"]["resourceVersion"]);  // nothing changed
  httplib::Result no_manager = client_->Patch(kServicePath, yaml, "application/apply-patch+yaml");
  ASSERT_TRUE(no_manager);
  EXPECT_EQ(no_manager->status, 400);
  EXPECT_THAT(no_manager->body, HasSubstr("fieldManager"));
  httplib::Result bad = client_->Patch(path, "a: [unclosed", "application/apply-patch+yaml");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  httplib::Result protobuf =
      client_->Post("/api/v1/namespaces/demo/services", std::string("k8s\0", 4),
                    "application/vnd.kubernetes.protobuf");
  ASSERT_TRUE(protobuf);
  EXPECT_EQ(protobuf->status, 415);
}

TEST_F(ApiFidelityTest, ATableWatchSendsColumnsOnce) {
  std::string body;
  httplib::Headers accept = {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}};
  std::thread writer([this] {
    absl::SleepFor(absl::Milliseconds(200));
    for (const char* name : {"a", "b"}) {
      (void)k8s_->store().Create(Resource::kPods,
                                 {{"metadata", {{"name", name}, {"namespace", "demo"}}},
                                  {"spec", {{"containers", json::array({{{"name", "c"}}})}}}});
    }
  });
  httplib::Result r = client_->Get("/api/v1/namespaces/demo/pods?watch=1&timeoutSeconds=2", accept,
                                   [&](const char* data, size_t n) {
                                     body.append(data, n);
                                     return true;
                                   });
  writer.join();
  ASSERT_TRUE(r);
  std::vector<json> events;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    events.push_back(json::parse(line));
  }
  ASSERT_GE(events.size(), 2u) << body;
  EXPECT_EQ(events[0]["object"]["kind"], "Table");
  EXPECT_FALSE(events[0]["object"]["columnDefinitions"].empty());
  EXPECT_TRUE(events[1]["object"]["columnDefinitions"].empty());
  EXPECT_EQ(events[1]["object"]["rows"][0]["cells"][0], "b");
  EXPECT_EQ(events[1]["object"]["rows"][0]["cells"][2], "Pending");
}

// A SelfSubjectAccessReview as client-go's protobuf encoder writes it.
std::string ProtobufAccessReview(const std::string& verb, const std::string& resource) {
  auto field = [](int number, const std::string& bytes) {
    std::string out;
    out.push_back(static_cast<char>(number << 3 | 2));
    out.push_back(static_cast<char>(bytes.size()));  // all short here
    return out + bytes;
  };
  std::string attributes = field(1, "demo") + field(2, verb) + field(5, resource);
  std::string review = field(2, field(1, attributes));
  std::string type_meta = field(1, "authorization.k8s.io/v1") + field(2, "SelfSubjectAccessReview");
  return std::string("k8s\0", 4) + field(1, type_meta) + field(2, review);
}

TEST_F(ApiFidelityTest, AccessReviewsInJsonAndProtobuf) {
  k8s_->server().AddToken("t", "alice");
  k8s_->server().SetRules("alice", {{{"get", "list"}, {"pods"}, {"demo"}}});
  httplib::Headers auth = {{"Authorization", "Bearer t"}};
  const std::string path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
  json review = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectAccessReview"},
      {"spec",
       {{"resourceAttributes", {{"namespace", "demo"}, {"verb", "list"}, {"resource", "pods"}}}}}};
  httplib::Result r = client_->Post(path, auth, review.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(json::parse(r->body)["status"]["allowed"], true);
  r = client_->Post(path, auth, ProtobufAccessReview("delete", "pods"),
                    "application/vnd.kubernetes.protobuf");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(json::parse(r->body)["status"]["allowed"], false);
  r = client_->Post(path, auth, ProtobufAccessReview("get", "pods"),
                    "application/vnd.kubernetes.protobuf");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["status"]["allowed"], true);
  // Neither kind of attributes: invalid.
  r = client_->Post(path, auth, R"({"spec":{}})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  // Anonymous users may not ask; reviews cannot be listed.
  EXPECT_EQ(client_->Post(path, review.dump(), "application/json")->status, 403);
  EXPECT_EQ(client_->Get(path, auth)->status, 405);
}

TEST_F(ApiFidelityTest, HealthEndpoints) {
  for (const char* path : {"/healthz", "/livez", "/readyz", "/readyz/ping", "/livez/etcd"}) {
    httplib::Result r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, "ok") << path;
  }
  httplib::Result verbose = client_->Get("/readyz?verbose");
  ASSERT_TRUE(verbose);
  EXPECT_THAT(verbose->body, HasSubstr("[+]ping ok"));
  EXPECT_THAT(verbose->body, HasSubstr("readyz check passed"));
  EXPECT_EQ(client_->Get("/readyz/nope")->status, 404);
}

TEST_F(ApiFidelityTest, OpenApiCarriesThePatchMetadata) {
  httplib::Result index = client_->Get("/openapi/v3");
  ASSERT_TRUE(index);
  json paths = json::parse(index->body)["paths"];
  for (const char* gv : {"api/v1", "apis/discovery.k8s.io/v1", "apis/events.k8s.io/v1",
                         "apis/authorization.k8s.io/v1", "apis/authentication.k8s.io/v1"}) {
    ASSERT_TRUE(paths.contains(gv)) << gv;
  }
  httplib::Result doc = client_->Get(paths["api/v1"]["serverRelativeURL"].get<std::string>());
  ASSERT_TRUE(doc);
  json schemas = json::parse(doc->body)["components"]["schemas"];
  const json& ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
  EXPECT_EQ(ports["x-kubernetes-patch-merge-key"], "port");
  EXPECT_EQ(ports["x-kubernetes-patch-strategy"], "merge");
  EXPECT_EQ(ports["x-kubernetes-list-map-keys"], json({"port", "protocol"}));
  EXPECT_EQ(schemas["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
  EXPECT_EQ(client_->Get("/openapi/v3/apis/apps/v1")->status, 404);
}

}  // namespace
}  // namespace fakek8s
