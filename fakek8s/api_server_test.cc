// HTTP tests of fakek8s's API server: a real httplib client over loopback.

#include "fakek8s/api_server.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fakek8s/fake_kubernetes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace fakek8s {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSlicesPath[] = "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices";

json PodJson(const std::string& name, const std::string& ip, bool ready) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
      {"spec", {{"containers", json::array({{{"name", "c"}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", ip},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

// Reads a watch stream on its own thread and collects its lines.
class WatchReader {
 public:
  WatchReader(ApiServer* server, const std::string& path, httplib::Headers headers = {})
      : server_(server) {
    thread_ = std::thread([this, path, headers] {
      httplib::Client client("127.0.0.1", server_->port());
      client.set_read_timeout(60);
      httplib::Result r = client.Get(path, headers, [this](const char* data, size_t n) {
        absl::MutexLock lock(&mu_);
        buffer_.append(data, n);
        size_t nl;
        while ((nl = buffer_.find('\n')) != std::string::npos) {
          lines_.push_back(buffer_.substr(0, nl));
          buffer_.erase(0, nl + 1);
        }
        ++chunks_;
        return true;
      });
      absl::MutexLock lock(&mu_);
      if (r) status_ = r->status;
      done_ = true;
    });
  }
  ~WatchReader() {
    if (!Done(absl::ZeroDuration())) server_->DropWatches();
    thread_.join();
  }

  // Waits for a line containing `needle`; returns it ("" on timeout).
  std::string WaitFor(const std::string& needle, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    std::string found;
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const std::string& l : lines_) {
        if (absl::StrContains(l, needle)) {
          found = l;
          return true;
        }
      }
      return done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&has), timeout);
    return found;
  }
  bool Done(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return done_;
  }
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return {lines_.begin(), lines_.end()};
  }
  int status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  std::string Partial() {
    absl::MutexLock lock(&mu_);
    return buffer_;
  }

 private:
  ApiServer* server_;
  absl::Mutex mu_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> lines_ ABSL_GUARDED_BY(mu_);
  int chunks_ ABSL_GUARDED_BY(mu_) = 0;
  int status_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(ApiServerOptions server_options) {
    k8s_.reset();
    FakeKubernetes::Options options;
    options.server = server_options;
    auto k8s = FakeKubernetes::Start(options);
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    ASSERT_TRUE(store().Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
    ASSERT_TRUE(
        store()
            .Create(Resource::kServices,
                    {{"metadata", {{"name", "web"}, {"namespace", "demo"}}},
                     {"spec",
                      {{"selector", {{"app", "web"}}},
                       {"ports",
                        json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", 8080}}})}}}})
            .ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server().port());
    client_->set_read_timeout(30);
  }

  ObjectStore& store() { return k8s_->store(); }
  ApiServer& server() { return k8s_->server(); }

  json GetJson(const std::string& path, int want_code = 200) {
    httplib::Result r = client_->Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, want_code) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  std::unique_ptr<FakeKubernetes> k8s_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiServerTest, DiscoveryDocuments) {
  EXPECT_EQ(GetJson("/api")["versions"], json::array({"v1"}));
  json groups = GetJson("/apis");
  EXPECT_EQ(groups["kind"], "APIGroupList");
  EXPECT_EQ(groups["groups"][0]["preferredVersion"]["groupVersion"], "discovery.k8s.io/v1");
  json v1 = GetJson("/api/v1");
  std::set<std::string> names;
  for (const json& r : v1["resources"]) names.insert(r["name"]);
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"endpoints", "services", "pods", "namespaces", "pods/status"}));
  json discovery = GetJson("/apis/discovery.k8s.io/v1");
  EXPECT_EQ(discovery["resources"][0]["name"], "endpointslices");
  EXPECT_EQ(discovery["resources"][0]["kind"], "EndpointSlice");
  EXPECT_EQ(GetJson("/apis/discovery.k8s.io")["kind"], "APIGroup");
  EXPECT_EQ(GetJson("/version")["gitVersion"], "v1.34.0");
  EXPECT_EQ(GetJson("/apis/apps/v1", 404)["reason"], "NotFound");
}

TEST_F(ApiServerTest, ListsGetsAndSelectors) {
  ASSERT_TRUE(client_->Post("/api/v1/namespaces/demo/pods",
                            PodJson("web-1", "127.0.1.1", true).dump(), "application/json"));
  json list =
      GetJson(kSlicesPath + std::string("?labelSelector=kubernetes.io%2Fservice-name%3Dweb"));
  EXPECT_EQ(list["kind"], "EndpointSliceList");
  EXPECT_EQ(list["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_FALSE(list["metadata"]["resourceVersion"].get<std::string>().empty());
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list["items"][0].contains("kind"));  // items carry no kind
  EXPECT_EQ(list["items"][0]["endpoints"][0]["addresses"][0], "127.0.1.1");

  EXPECT_TRUE(GetJson(kSlicesPath +
                      std::string("?labelSelector=kubernetes.io%2Fservice-name%3Dother"))["items"]
                  .empty());
  EXPECT_EQ(GetJson("/api/v1/pods?fieldSelector=metadata.name%3Dweb-1")["items"].size(), 1u);
  EXPECT_EQ(
      GetJson("/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Dnope")["items"].size(),
      0u);
  EXPECT_EQ(GetJson("/api/v1/namespaces")["kind"], "NamespaceList");
  EXPECT_EQ(GetJson("/api/v1/namespaces/demo")["kind"], "Namespace");
  EXPECT_EQ(GetJson("/api/v1/namespaces/demo/services/web")["spec"]["ports"][0]["protocol"], "TCP");

  json missing = GetJson("/api/v1/namespaces/demo/services/nope", 404);
  EXPECT_EQ(missing["kind"], "Status");
  EXPECT_EQ(missing["message"], "services \"nope\" not found");
  EXPECT_EQ(missing["code"], 404);
  EXPECT_EQ(GetJson("/api/v1/namespaces/demo/widgets", 404)["reason"], "NotFound");
  EXPECT_EQ(GetJson("/api/v1/namespaces/demo/pods?labelSelector=app%20in%20(", 400)["reason"],
            "BadRequest");
  EXPECT_EQ(GetJson("/api/v1/pods?fieldSelector=spec.bogus%3Dx", 400)["message"],
            "field label not supported: spec.bogus");
}

TEST_F(ApiServerTest, EndpointsCarryTheDeprecationWarning) {
  httplib::Result r = client_->Get("/api/v1/namespaces/demo/endpoints/web");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->get_header_value("Warning"), HasSubstr("v1 Endpoints is deprecated"));
  r = client_->Get("/api/v1/namespaces/demo/services/web");
  EXPECT_FALSE(r->has_header("Warning"));
}

TEST_F(ApiServerTest, WritesThroughRestDriveTheController) {
  httplib::Result created =
      client_->Post("/api/v1/namespaces/demo/pods", PodJson("web-1", "127.0.1.1", false).dump(),
                    "application/json");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(client_
                ->Post("/api/v1/namespaces/demo/pods", PodJson("web-1", "127.0.1.1", false).dump(),
                       "application/json")
                ->status,
            409);

  auto ready_of = [&] {
    return GetJson(kSlicesPath)["items"][0]["endpoints"][0]["conditions"]["ready"].get<bool>();
  };
  EXPECT_FALSE(ready_of());
  // kubectl patch pod web-1 --subresource=status --type=strategic ...
  httplib::Result patched =
      client_->Patch("/api/v1/namespaces/demo/pods/web-1/status",
                     R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})",
                     "application/strategic-merge-patch+json");
  ASSERT_TRUE(patched);
  EXPECT_EQ(patched->status, 200) << patched->body;
  EXPECT_TRUE(ready_of());
  patched = client_->Patch("/api/v1/namespaces/demo/pods/web-1",
                           R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})",
                           "application/merge-patch+json");
  EXPECT_EQ(patched->status, 200);
  EXPECT_FALSE(ready_of());
  patched = client_->Patch("/api/v1/namespaces/demo/pods/web-1",
                           R"([{"op":"replace","path":"/status/podIP","value":"127.0.1.9"}])",
                           "application/json-patch+json");
  EXPECT_EQ(patched->status, 200);
  EXPECT_EQ(GetJson(kSlicesPath)["items"][0]["endpoints"][0]["addresses"][0], "127.0.1.9");
  EXPECT_EQ(client_->Patch("/api/v1/namespaces/demo/pods/web-1", "{}", "text/plain")->status, 415);

  // PUT with a stale resourceVersion conflicts.
  json pod = json::parse(created->body);
  pod["metadata"]["labels"]["x"] = "y";
  EXPECT_EQ(
      client_->Put("/api/v1/namespaces/demo/pods/web-1", pod.dump(), "application/json")->status,
      409);
  EXPECT_EQ(
      client_->Put("/api/v1/namespaces/demo/pods/other", pod.dump(), "application/json")->status,
      400);

  // Graceful delete: terminating, then gone.
  auto watch = std::make_unique<WatchReader>(
      &server(), absl::StrCat("/api/v1/namespaces/demo/pods?watch=true&resourceVersion=",
                              store().CurrentResourceVersion()));
  httplib::Result deleted = client_->Delete("/api/v1/namespaces/demo/pods/web-1");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200);
  EXPECT_THAT(watch->WaitFor("deletionTimestamp"), HasSubstr("\"MODIFIED\""));
  EXPECT_THAT(watch->WaitFor("DELETED"), HasSubstr("web-1"));
  EXPECT_EQ(client_->Delete("/api/v1/namespaces/demo/pods/web-1")->status, 404);
}

TEST_F(ApiServerTest, BadInputGetsStatusErrorsAndTheServerKeepsServing) {
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"/api/v1/namespaces/demo/pods", "{not json"},
      {"/api/v1/namespaces/demo/pods", "[1,2,3]"},
      {"/api/v1/namespaces/demo/pods", R"({"metadata":"oops"})"},
      {"/api/v1/namespaces/demo/pods", R"({"metadata":{"name":"UPPER"}})"},
      {"/api/v1/namespaces/demo/pods", R"({"metadata":{"name":"x","namespace":"other"}})"},
      {"/api/v1/namespaces/nope/pods", R"({"metadata":{"name":"x"}})"},
      {"/api/v1/namespaces/demo/services",
       R"({"metadata":{"name":"s"},"spec":{"ports":"x","selector":[1]}})"},
      {"/api/v1/namespaces/demo/pods",
       R"({"metadata":{"name":"p","labels":{"app":"web"}},"status":{"podIP":7,"conditions":"no"}})"},
      {"/api/v1/namespaces/demo/pods", std::string("{\"metadata\":{\"name\":\"\xff\xfe\"}}")},
  };
  for (const auto& [path, body] : bodies) {
    httplib::Result r = client_->Post(path, body, "application/json");
    ASSERT_TRUE(r) << body;
    EXPECT_GE(r->status, 200) << body;
    json status = json::parse(r->body, nullptr, false);
    if (r->status >= 400) {
      EXPECT_EQ(status["kind"], "Status") << body << " -> " << r->body;
    }
  }
  for (const char* path : {"/api/v2/pods", "/apis/discovery.k8s.io/v1/endpointslices/a/b/c/d",
                           "/api/v1/namespaces/demo/pods/x/exec", "/api/v1/pods/x",
                           "/api/v1/watch/namespaces/demo/pods?resourceVersion=abc",
                           "/api/v1/namespaces/demo/pods?watch=1&resourceVersion=-5", "/%ff%fe"}) {
    httplib::Result r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_GE(r->status, 400) << path;
  }
  // Listing a namespace that does not exist is an empty list, as on a real server.
  json odd = GetJson("/api/v1/namespaces/%ff/pods");
  EXPECT_EQ(odd["items"], json::array());
  EXPECT_EQ(client_->Delete("/api/v1/namespaces/demo/pods")->status, 405);
  // Patches that would break the object's shape are refused.
  ASSERT_TRUE(client_->Post("/api/v1/namespaces/demo/pods", PodJson("p1", "127.0.1.1", true).dump(),
                            "application/json"));
  for (const char* patch : {R"({"metadata":"x"})", R"([{"op":"replace","path":"","value":3}])"}) {
    httplib::Result r = client_->Patch(
        "/api/v1/namespaces/demo/pods/p1", patch,
        patch[0] == '[' ? "application/json-patch+json" : "application/merge-patch+json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << patch << ": " << r->body;
  }
  EXPECT_EQ(GetJson("/api/v1/namespaces/demo/services/web")["metadata"]["name"], "web");
}

TEST_F(ApiServerTest, WatchStreamsOneEventPerLineFromTheListVersion) {
  json list = GetJson(kSlicesPath);
  const std::string rv = list["metadata"]["resourceVersion"];
  // As kubectl does: a client that accepts compression still gets each event at once.
  WatchReader watch(
      &server(),
      absl::StrCat(kSlicesPath, "?watch=1&allowWatchBookmarks=true&resourceVersion=", rv),
      {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(store()
                  .Create(Resource::kPods,
                          [] {
                            json p = PodJson("web-1", "127.0.1.1", true);
                            p["metadata"]["namespace"] = "demo";
                            return p;
                          }())
                  .ok());
  std::string line = watch.WaitFor("127.0.1.1");
  ASSERT_FALSE(line.empty());
  json event = json::parse(line);
  EXPECT_EQ(event["type"], "MODIFIED");                 // the placeholder slice gets the endpoint
  EXPECT_EQ(event["object"]["kind"], "EndpointSlice");  // events carry kind
  EXPECT_EQ(event["object"]["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_EQ(watch.Partial(), "");  // each event is a complete line
}

TEST_F(ApiServerTest, WatchWithoutVersionStartsWithSyntheticAdded) {
  WatchReader watch(&server(), "/api/v1/namespaces/demo/services?watch=true");
  EXPECT_THAT(watch.WaitFor("\"web\""), HasSubstr("\"ADDED\""));
}

TEST_F(ApiServerTest, TooOldVersionGetsTheErrorEventThenTheEnd) {
  const std::string old_rv = store().CurrentResourceVersion();
  ASSERT_TRUE(store().Create(Resource::kNamespaces, {{"metadata", {{"name", "other"}}}}).ok());
  server().CompactHistory();
  ASSERT_TRUE(store().Create(Resource::kNamespaces, {{"metadata", {{"name", "third"}}}}).ok());
  WatchReader watch(&server(), absl::StrCat(kSlicesPath, "?watch=1&resourceVersion=", old_rv));
  ASSERT_TRUE(watch.Done(absl::Seconds(30)));
  EXPECT_EQ(watch.status(), 200);
  std::vector<std::string> lines = watch.Lines();
  ASSERT_EQ(lines.size(), 1u);
  json event = json::parse(lines[0]);
  EXPECT_EQ(event["type"], "ERROR");
  EXPECT_EQ(event["object"]["kind"], "Status");
  EXPECT_EQ(event["object"]["code"], 410);
  EXPECT_EQ(event["object"]["reason"], "Expired");
  EXPECT_THAT(event["object"]["message"].get<std::string>(),
              HasSubstr("too old resource version: " + old_rv));
}

TEST_F(ApiServerTest, BookmarksAndTimeoutSeconds) {
  Start({.bookmark_interval = absl::Milliseconds(50)});
  WatchReader watch(
      &server(), absl::StrCat(kSlicesPath,
                              "?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=",
                              store().CurrentResourceVersion()));
  json bookmark = json::parse(watch.WaitFor("BOOKMARK"), nullptr, false);
  ASSERT_TRUE(bookmark.is_object());
  EXPECT_EQ(bookmark["object"]["kind"], "EndpointSlice");
  EXPECT_EQ(bookmark["object"]["metadata"]["resourceVersion"], store().CurrentResourceVersion());
  // timeoutSeconds ends the stream cleanly.
  EXPECT_TRUE(watch.Done(absl::Seconds(60)));
  // Without allowWatchBookmarks: none.
  WatchReader quiet(&server(),
                    absl::StrCat(kSlicesPath, "?watch=1&timeoutSeconds=1&resourceVersion=",
                                 store().CurrentResourceVersion()));
  EXPECT_TRUE(quiet.Done(absl::Seconds(60)));
  EXPECT_TRUE(quiet.Lines().empty());
}

TEST_F(ApiServerTest, SendInitialEventsIsImplementedOrRefusedLikeARealServer) {
  json refused = GetJson(absl::StrCat(kSlicesPath, "?watch=1&sendInitialEvents=true"), 422);
  EXPECT_EQ(refused["reason"], "Invalid");
  EXPECT_THAT(refused["message"].get<std::string>(), HasSubstr("sendInitialEvents: Forbidden"));
  WatchReader watch(&server(),
                    absl::StrCat(kSlicesPath,
                                 "?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&"
                                 "resourceVersionMatch=NotOlderThan"));
  std::string end = watch.WaitFor("initial-events-end");
  ASSERT_FALSE(end.empty());
  std::vector<std::string> lines = watch.Lines();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("\"ADDED\""));
  EXPECT_THAT(end, HasSubstr("\"BOOKMARK\""));
}

TEST_F(ApiServerTest, LegacyWatchPathWatchesOneObject) {
  WatchReader watch(&server(), "/api/v1/watch/namespaces/demo/endpoints/web");
  EXPECT_THAT(watch.WaitFor("\"web\""), HasSubstr("\"ADDED\""));
  ASSERT_TRUE(store()
                  .Create(Resource::kPods,
                          [] {
                            json p = PodJson("web-1", "127.0.1.1", true);
                            p["metadata"]["namespace"] = "demo";
                            return p;
                          }())
                  .ok());
  EXPECT_THAT(watch.WaitFor("127.0.1.1"), HasSubstr("\"MODIFIED\""));
}

TEST_F(ApiServerTest, TokensAreRequiredOnceConfiguredAndRotate) {
  server().AddToken("old-token", "alice");
  // Without credentials a request is anonymous (as with kubeadm's defaults):
  // health and version only.
  json anonymous = GetJson("/api/v1/namespaces/demo/services", 403);
  EXPECT_EQ(anonymous["reason"], "Forbidden");
  EXPECT_THAT(anonymous["message"].get<std::string>(), HasSubstr("\"system:anonymous\""));
  EXPECT_EQ(GetJson("/version")["gitVersion"], "v1.34.0");
  EXPECT_EQ(client_->Get("/healthz")->body, "ok");
  EXPECT_EQ(client_->Get("/api")->status, 403);
  EXPECT_EQ(GetJson("/api/v1/namespaces/demo/services?watch=1", 403)["reason"], "Forbidden");
  // Credentials that name nobody are 401, even for public paths.
  const httplib::Headers nobody = {{"Authorization", "Bearer nobody"}};
  httplib::Result unknown = client_->Get("/api/v1/namespaces/demo/services", nobody);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);
  EXPECT_EQ(json::parse(unknown->body)["reason"], "Unauthorized");
  EXPECT_EQ(client_->Get("/healthz", nobody)->status, 401);
  httplib::Headers old_auth = {{"Authorization", "Bearer old-token"}};
  EXPECT_EQ(client_->Get("/api/v1/namespaces/demo/services", old_auth)->status, 200);
  // Rotation: the new token works at once, the old one stops working.
  server().AddToken("new-token", "alice");
  server().RemoveToken("old-token");
  EXPECT_EQ(client_->Get("/api/v1/namespaces/demo/services", old_auth)->status, 401);
  EXPECT_EQ(
      client_->Get("/api/v1/namespaces/demo/services", {{"Authorization", "Bearer new-token"}})
          ->status,
      200);
  EXPECT_EQ(client_->Get("/api", {{"Authorization", "Bearer wrong"}})->status, 401);
}

TEST_F(ApiServerTest, RbacAnswersForbiddenWithTheRealMessage) {
  server().AddToken("t", "system:serviceaccount:demo:client");
  server().SetRules(
      "system:serviceaccount:demo:client",
      {{{"list", "watch"}, {"endpointslices"}, {"demo"}}, {{"get"}, {"services"}, {"demo"}}});
  httplib::Headers auth = {{"Authorization", "Bearer t"}};
  EXPECT_EQ(client_->Get(kSlicesPath, auth)->status, 200);
  EXPECT_EQ(client_->Get("/api/v1/namespaces/demo/services/web", auth)->status, 200);
  httplib::Result r =
      client_->Get("/apis/discovery.k8s.io/v1/namespaces/other/endpointslices", auth);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  json status = json::parse(r->body);
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_EQ(status["message"],
            "endpointslices.discovery.k8s.io is forbidden: User "
            "\"system:serviceaccount:demo:client\" cannot list resource \"endpointslices\" in "
            "API group \"discovery.k8s.io\" in the namespace \"other\"");
  r = client_->Get("/api/v1/pods", auth);
  EXPECT_EQ(json::parse(r->body)["message"],
            "pods is forbidden: User \"system:serviceaccount:demo:client\" cannot list resource "
            "\"pods\" in API group \"\" at the cluster scope");
  EXPECT_EQ(client_->Delete("/api/v1/namespaces/demo/services/web", auth)->status, 403);
}

TEST_F(ApiServerTest, InjectedFailuresAndLatency) {
  server().FailNextRequests(1, 429, absl::Seconds(2), /*plain_text=*/true);
  httplib::Result r = client_->Get(kSlicesPath);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "2");
  EXPECT_EQ(r->body, "Too many requests, please try again later.\n");

  server().FailNextRequests(2, 500);
  EXPECT_EQ(GetJson(kSlicesPath, 500)["reason"], "InternalError");
  EXPECT_EQ(GetJson(kSlicesPath, 500)["kind"], "Status");
  EXPECT_EQ(client_->Get(kSlicesPath)->status, 200);

  server().SetLatency(absl::Milliseconds(200));
  absl::Time start = absl::Now();
  EXPECT_EQ(client_->Get(kSlicesPath)->status, 200);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  server().SetLatency(absl::ZeroDuration());
  std::map<std::string, int64_t> counts = server().RequestCounts();
  EXPECT_EQ(counts["list endpointslices"], 2);
  EXPECT_EQ(counts["injected failure"], 3);
}

TEST_F(ApiServerTest, DroppedAndStalledWatches) {
  WatchReader watch(
      &server(),
      absl::StrCat(kSlicesPath, "?watch=1&resourceVersion=", store().CurrentResourceVersion()));
  // Wait until the stream is open.
  for (int i = 0; i < 3000 && server().OpenWatchStreams() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server().OpenWatchStreams(), 1);
  server().StallWatches(true);
  ASSERT_TRUE(store()
                  .Create(Resource::kPods,
                          [] {
                            json p = PodJson("web-1", "127.0.1.1", true);
                            p["metadata"]["namespace"] = "demo";
                            return p;
                          }())
                  .ok());
  EXPECT_EQ(watch.WaitFor("127.0.1.1", absl::Milliseconds(300)), "");  // silent
  server().StallWatches(false);
  EXPECT_NE(watch.WaitFor("127.0.1.1"), "");
  server().DropWatches();
  EXPECT_TRUE(watch.Done(absl::Seconds(30)));
}

TEST_F(ApiServerTest, OutageRefusesConnectionsThenServesOnTheSamePort) {
  const int port = server().port();
  server().BeginOutage();
  httplib::Client during("127.0.0.1", port);
  during.set_connection_timeout(5);
  httplib::Result r = during.Get("/api");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), httplib::Error::Connection);
  ASSERT_TRUE(server().EndOutage().ok());
  EXPECT_EQ(server().port(), port);
  httplib::Client after("127.0.0.1", port);
  EXPECT_EQ(after.Get("/api")->status, 200);
}

X509_STORE* StoreFor(const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(store, cert);
  X509_free(cert);
  BIO_free(bio);
  return store;
}

TEST(ApiServerTlsTest, ClientsVerifyTheServerAgainstItsCa) {
  auto k8s = FakeKubernetes::Start({.server = {.tls = true}});
  ASSERT_TRUE(k8s.ok()) << k8s.status();
  ApiServer& server = (*k8s)->server();
  EXPECT_TRUE(absl::StartsWith(server.url(), "https://127.0.0.1:"));
  EXPECT_THAT(server.Kubeconfig("tok"), HasSubstr("certificate-authority-data: "));

  httplib::SSLClient good("127.0.0.1", server.port());
  good.enable_server_certificate_verification(true);
  good.set_ca_cert_store(StoreFor(server.ca_pem()));
  httplib::Result r = good.Get("/version");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);

  // Another server's CA does not verify this one.
  auto other = FakeKubernetes::Start({.server = {.tls = true}});
  ASSERT_TRUE(other.ok());
  httplib::SSLClient bad("127.0.0.1", server.port());
  bad.enable_server_certificate_verification(true);
  bad.set_ca_cert_store(StoreFor((*other)->server().ca_pem()));
  r = bad.Get("/version");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), httplib::Error::SSLServerVerification);
}

}  // namespace
}  // namespace fakek8s
