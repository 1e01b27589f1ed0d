// The fault matrix, API side: each test is one row of docs/FAULTS.md. Real
// HttpK8sClient and ServiceDiscovery against fakek8s over HTTPS on loopback,
// with faults injected at the server. Each row checks the expected behaviour:
// a clear error naming the Service and the cause, the last-known endpoints kept
// while the API cannot be trusted, and recovery once it can (waited for with
// generous bounds; timing is the benchmarks' job).
//
// The row "API unreachable for minutes" runs on virtual time in the simulation.

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/http_k8s_client.h"
#include "testing/simulation.h"

namespace kubegrpc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr absl::Duration kBound = absl::Seconds(60);  // generous: for slow sanitizer builds

json PodJson(const std::string& name, const std::string& ip) {
  return {{"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", json::array({{{"name", "web"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"podIP", ip},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

// A hand-made EndpointSlice of Service demo/web (not the controller's).
json SliceJson(const std::string& name, const std::string& address_type, json endpoints,
               json ports = json::array({{{"name", "grpc"}, {"port", 8080}}})) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "demo"},
            {"labels", {{"kubernetes.io/service-name", "web"}}}}},
          {"addressType", address_type},
          {"endpoints", std::move(endpoints)},
          {"ports", std::move(ports)}};
}

class FaultMatrixTest : public ::testing::Test {
 protected:
  void StartApi(fakek8s::ApiServerOptions server = {}) {
    server.tls = true;
    auto k8s = fakek8s::FakeKubernetes::Start({.server = server});
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    // Service demo/web (port 80 named "grpc" -> 8080) with pods 127.0.10.1-3.
    ASSERT_TRUE(fakek8s::SeedDemo(k8s_->store(), {}).ok());
  }
  ClusterConfig Config() {
    ClusterConfig c;
    c.server = k8s_->server().url();
    c.ca_pem = k8s_->server().ca_pem();
    c.source = "the fault matrix";
    return c;
  }
  static DiscoveryOptions Fast() {
    DiscoveryOptions o;
    o.backoff.initial = absl::Milliseconds(50);
    o.backoff.max = absl::Milliseconds(400);
    return o;
  }
  void StartDiscovery(DiscoveryOptions options = Fast(), ClusterConfig config = {},
                      HttpK8sClient::Options client_options = {}) {
    if (config.server.empty()) config = Config();
    auto client = HttpK8sClient::Create(std::move(config), client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    discovery_ = std::make_unique<ServiceDiscovery>(
        client_.get(), ServiceTarget{"web", "demo", 80, ""}, options,
        [this](std::shared_ptr<const EndpointSet> set, const EndpointDelta&) {
          absl::MutexLock lock(&mu_);
          latest_ = set;
          if (synced_once_) min_usable_ = std::min(min_usable_, set->usable().size());
          synced_once_ = true;
          ++publishes_;
        });
    discovery_->Start();
  }
  void TearDown() override {
    if (discovery_ != nullptr) discovery_->Stop();
  }

  // Waits until the published set has `n` usable endpoints, including `must_have`.
  bool WaitFor(size_t n, const std::string& must_have = "") {
    absl::MutexLock lock(&mu_);
    auto ok = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (latest_ == nullptr || latest_->usable().size() != n) return false;
      if (must_have.empty()) return true;
      for (const Endpoint& e : latest_->usable()) {
        if (e.HostPort() == must_have) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&ok), kBound);
  }
  // Waits until discovery's last error satisfies `pred`; returns that error.
  absl::Status WaitForError(const std::function<bool(const absl::Status&)>& pred) {
    const absl::Time give_up = absl::Now() + kBound;
    while (absl::Now() < give_up) {
      absl::Status s = discovery_->status().last_error;
      if (!s.ok() && pred(s)) return s;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "the expected error never came; the last was "
                  << discovery_->status().last_error;
    return discovery_->status().last_error;
  }
  absl::Status WaitForErrorCode(absl::StatusCode code) {
    return WaitForError([code](const absl::Status& s) { return s.code() == code; });
  }
  size_t Usable() {
    absl::MutexLock lock(&mu_);
    return latest_ == nullptr ? 0 : latest_->usable().size();
  }
  int64_t Requests(const std::string& what) {
    auto counts = k8s_->server().RequestCounts();
    auto it = counts.find(what);
    return it == counts.end() ? 0 : it->second;
  }
  int64_t AllRequests() {
    int64_t n = 0;
    for (const auto& [k, v] : k8s_->server().RequestCounts()) n += v;
    return n;
  }
  void CreatePod(const std::string& name, const std::string& ip) {
    ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kPods, PodJson(name, ip)).ok());
  }
  // Errors must name the Service they are about.
  static void ExpectNamesTheService(const absl::Status& s) {
    EXPECT_THAT(s.message(), HasSubstr("demo/web")) << s;
  }

  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
  std::unique_ptr<HttpK8sClient> client_;
  std::unique_ptr<ServiceDiscovery> discovery_;
  absl::Mutex mu_;
  std::shared_ptr<const EndpointSet> latest_ ABSL_GUARDED_BY(mu_);
  bool synced_once_ ABSL_GUARDED_BY(mu_) = false;
  size_t min_usable_ ABSL_GUARDED_BY(mu_) = SIZE_MAX;  // after the first publish
  int publishes_ ABSL_GUARDED_BY(mu_) = 0;
};

// --- Reaching the API server ---------------------------------------------------

TEST_F(FaultMatrixTest, ApiUnreachableAtStartUp) {
  StartApi();
  k8s_->server().BeginOutage();
  StartDiscovery();
  absl::Status s = WaitForErrorCode(absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("cannot reach the API server"));
  ExpectNamesTheService(s);
  EXPECT_EQ(discovery_->current(), nullptr);  // nothing invented
  ASSERT_TRUE(k8s_->server().EndOutage().ok());
  EXPECT_TRUE(WaitFor(3));
}

TEST_F(FaultMatrixTest, ApiUnreachableForMinutesKeepsThePoolOnVirtualTime) {
  // Ten minutes without an API server, a scale-up during it: every pick keeps
  // going to the three known pods, retries stay within the backoff (30 s cap),
  // and the new pod is used within a backoff period of the API's return.
  testing::Scenario scenario;
  scenario.deployment.replicas = 3;
  scenario.steps = {{absl::Seconds(5), "outage 10m"}, {absl::Minutes(1), "scale web 4"}};
  scenario.duration = absl::Minutes(12);
  absl::StatusOr<testing::SimulationResult> r = testing::Simulate(scenario, {.seed = 3});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->load.failed, 0);
  EXPECT_EQ(r->load.by_pod.size(), 4u);
  // ~600 s / 30 s of attempts, each a get and a list at most.
  EXPECT_LE(r->api_gets + r->api_lists + r->api_watches, 2 * (600 / 24) + 10);
  ASSERT_EQ(r->new_pod_first_use.size(), 1u);
  // Ready in the API at 65 s, during the outage; the API is back at 605 s.
  EXPECT_GE(r->new_pod_first_use[0], absl::Seconds(605 - 65));
  EXPECT_LE(r->new_pod_first_use[0], absl::Seconds(605 - 65 + 40));
}

TEST_F(FaultMatrixTest, ApiFlappingNeverEmptiesThePoolAndConverges) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  for (int i = 0; i < 10; ++i) {
    k8s_->server().BeginOutage();
    if (i == 3) CreatePod("web-a", "127.0.10.21");
    if (i == 6) CreatePod("web-b", "127.0.10.22");
    absl::SleepFor(absl::Milliseconds(150));
    ASSERT_TRUE(k8s_->server().EndOutage().ok());
    absl::SleepFor(absl::Milliseconds(150));
  }
  EXPECT_TRUE(WaitFor(5, "127.0.10.22:8080"));
  absl::MutexLock lock(&mu_);
  EXPECT_GE(min_usable_, 3u);  // never fewer than the API said
}

TEST_F(FaultMatrixTest, DnsNameOfTheApiServer) {
  StartApi();
  ClusterConfig c = Config();
  c.server = absl::StrCat("https://localhost:", k8s_->server().port());
  StartDiscovery(Fast(), c);
  EXPECT_TRUE(WaitFor(3));
}

// --- Watch streams ---------------------------------------------------------------

TEST_F(FaultMatrixTest, WatchClosedEveryFewSecondsResumesWithoutRelisting) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  const int64_t lists = discovery_->status().lists;
  for (int i = 0; i < 6; ++i) {
    k8s_->server().DropWatches();
    CreatePod(absl::StrCat("web-n", i), absl::StrCat("127.0.10.", 30 + i));
    // The pod reaches discovery only through a resumed stream; waiting for it (not for a
    // fixed time) makes sure the next drop hits a new stream on a loaded machine too.
    ASSERT_TRUE(WaitFor(4 + i, absl::StrCat("127.0.10.", 30 + i, ":8080")));
  }
  // Each stream resumed from its resourceVersion: no relist was needed.
  EXPECT_EQ(discovery_->status().lists, lists);
  EXPECT_GE(discovery_->status().watches, 6);
}

TEST_F(FaultMatrixTest, StalledWatchIsDetectedByTheWatchdog) {
  StartApi({.bookmark_interval = absl::Milliseconds(200)});
  DiscoveryOptions options = Fast();
  // Bookmarks come every 200 ms; the watchdog allows 25 times that, so a loaded machine
  // that delays a few bookmarks does not look like a stalled stream.
  options.watch_idle_timeout = absl::Seconds(5);
  StartDiscovery(options);
  ASSERT_TRUE(WaitFor(3));
  // Healthy but quiet: bookmarks keep the watchdog fed for longer than its timeout.
  absl::SleepFor(absl::Seconds(7));
  EXPECT_TRUE(discovery_->status().last_error.ok()) << discovery_->status().last_error;
  k8s_->server().StallWatches(true);
  CreatePod("web-s", "127.0.10.40");
  absl::Status s = WaitForErrorCode(absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("went silent"));
  ExpectNamesTheService(s);
  EXPECT_EQ(Usable(), 3u);  // kept while the API says nothing
  k8s_->server().StallWatches(false);
  EXPECT_TRUE(WaitFor(4, "127.0.10.40:8080"));
}

TEST_F(FaultMatrixTest, ExpiredStorm410BacksOffAndRecovers) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  // Every request for a while answers 410 Gone (a lagging cache or proxy).
  k8s_->server().FailNextRequests(30, 410);
  k8s_->server().DropWatches();
  const int64_t before = AllRequests();
  absl::SleepFor(absl::Seconds(2));
  // Backed off, not spinning: 50 ms doubling to 400 ms gives well under 30 in 2 s.
  EXPECT_LT(AllRequests() - before, 30);
  EXPECT_EQ(Usable(), 3u);
  k8s_->server().FailNextRequests(0, 410);
  CreatePod("web-g", "127.0.10.41");
  EXPECT_TRUE(WaitFor(4, "127.0.10.41:8080"));
}

TEST_F(FaultMatrixTest, RateLimitedWithRetryAfterWaitsAsTold) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  k8s_->server().FailNextRequests(1, 429, absl::Seconds(2));
  k8s_->server().DropWatches();
  absl::Status s = WaitForErrorCode(absl::StatusCode::kResourceExhausted);
  ExpectNamesTheService(s);
  CreatePod("web-r", "127.0.10.42");
  EXPECT_TRUE(WaitFor(4, "127.0.10.42:8080"));
  // The retry came no earlier than Retry-After said: the first success after the 429
  // follows it by at least 2 s. (A loaded machine can only make the gap longer.)
  const DiscoveryStatus status = discovery_->status();
  EXPECT_GE(status.last_success_at - status.last_error_at, absl::Milliseconds(1900))
      << "retried before Retry-After (2 s)";
}

TEST_F(FaultMatrixTest, RateLimitedWithoutRetryAfterBacksOffWithAPlainTextBody) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  k8s_->server().FailNextRequests(6, 429, absl::ZeroDuration(), /*plain_text=*/true);
  k8s_->server().DropWatches();
  absl::Status s = WaitForErrorCode(absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("Too many requests"));
  ExpectNamesTheService(s);
  EXPECT_EQ(Usable(), 3u);
  CreatePod("web-p", "127.0.10.43");
  EXPECT_TRUE(WaitFor(4, "127.0.10.43:8080"));
}

TEST_F(FaultMatrixTest, ServerErrorsKeepThePool) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  k8s_->server().FailNextRequests(5, 500);
  k8s_->server().DropWatches();
  absl::Status s =
      WaitForError([](const absl::Status& e) { return absl::StrContains(e.message(), "500"); });
  ExpectNamesTheService(s);
  EXPECT_EQ(Usable(), 3u);
  CreatePod("web-e", "127.0.10.44");
  EXPECT_TRUE(WaitFor(4, "127.0.10.44:8080"));
}

TEST_F(FaultMatrixTest, HtmlAndPlainTextBodiesFromAProxy) {
  StartApi();
  // A captive page answering 200 with HTML where JSON belongs, from the start.
  k8s_->server().RespondToNextRequests(2, 200, "text/html", "<html>please log in</html>");
  StartDiscovery();
  absl::Status s = WaitForError(
      [](const absl::Status& e) { return absl::StrContains(e.message(), "not valid JSON"); });
  ExpectNamesTheService(s);
  EXPECT_EQ(discovery_->current(), nullptr);
  ASSERT_TRUE(WaitFor(3));
  // An HTML error page from a proxy in front of the API server.
  k8s_->server().RespondToNextRequests(
      2, 502, "text/html",
      "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
  k8s_->server().DropWatches();
  s = WaitForError([](const absl::Status& e) { return absl::StrContains(e.message(), "502"); });
  EXPECT_THAT(s.message(), HasSubstr("Bad Gateway"));
  ExpectNamesTheService(s);
  // HTML lines inside a watch stream: the stream's events cannot be trusted.
  k8s_->server().RespondToNextRequests(1, 200, "text/html", "<html>\n<body>oops</body>\n");
  k8s_->server().DropWatches();
  s = WaitForError([](const absl::Status& e) {
    return absl::StrContains(e.message(), "not valid JSON") &&
           absl::StrContains(e.message(), "(watching EndpointSlices of Service demo/web)");
  });
  ExpectNamesTheService(s);
  EXPECT_EQ(Usable(), 3u);
  CreatePod("web-h", "127.0.10.45");
  EXPECT_TRUE(WaitFor(4, "127.0.10.45:8080"));
}

TEST_F(FaultMatrixTest, TruncatedJsonIsAnErrorNotAnEmptyList) {
  StartApi();
  const std::string truncated =
      R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1",)"
      R"("metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"web-abc")";
  // At start-up: nothing is published from half a response.
  k8s_->server().RespondToNextRequests(2, 200, "application/json", truncated);
  StartDiscovery();
  absl::Status s = WaitForError(
      [](const absl::Status& e) { return absl::StrContains(e.message(), "not valid JSON"); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  ExpectNamesTheService(s);
  ASSERT_TRUE(WaitFor(3));
  // A watch stream cut inside an event.
  k8s_->server().RespondToNextRequests(1, 200, "application/json",
                                       R"({"type":"ADDED","object":{"metadata":{"na)");
  k8s_->server().DropWatches();
  s = WaitForError([](const absl::Status& e) {
    return absl::StrContains(e.message(), "ended in the middle of an event");
  });
  ExpectNamesTheService(s);
  EXPECT_EQ(Usable(), 3u);
  CreatePod("web-t", "127.0.10.46");
  EXPECT_TRUE(WaitFor(4, "127.0.10.46:8080"));
}

TEST_F(FaultMatrixTest, HundredMiBWatchLineIsRefusedWithBoundedMemory) {
  StartApi();
  HttpK8sClient::Options client_options;
  client_options.max_response_bytes = 32 << 20;  // lists too, while the object exists
  StartDiscovery(Fast(), {}, client_options);
  ASSERT_TRUE(WaitFor(3));
  // An EndpointSlice no real API server would store (etcd caps objects at
  // 1.5 MiB): one 100 MiB annotation, so its watch event is a 100 MiB line.
  json huge = SliceJson("web-huge", "IPv4", json::array({{{"addresses", {"127.0.10.50"}}}}));
  huge["metadata"]["annotations"] = {{"padding", std::string(100 << 20, 'x')}};
  ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kEndpointSlices, std::move(huge)).ok());
  absl::Status s = WaitForErrorCode(absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("larger than"));
  ExpectNamesTheService(s);
  EXPECT_EQ(Usable(), 3u);
  // Once the object is gone, a relist (the stream lost an event) recovers.
  ASSERT_TRUE(k8s_->store().Delete(fakek8s::Resource::kEndpointSlices, "demo", "web-huge").ok());
  CreatePod("web-after", "127.0.10.51");
  EXPECT_TRUE(WaitFor(4, "127.0.10.51:8080"));
}

// --- What the objects say ----------------------------------------------------------

TEST_F(FaultMatrixTest, SliceWithTenThousandEndpoints) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  json endpoints = json::array();
  for (int i = 0; i < 10000; ++i) {
    endpoints.push_back(
        {{"addresses", {absl::StrCat("10.", 100 + i / 65536, ".", (i / 256) % 256, ".", i % 256)}},
         {"conditions", {{"ready", true}}}});
  }
  ASSERT_TRUE(k8s_->store()
                  .Create(fakek8s::Resource::kEndpointSlices,
                          SliceJson("web-big", "IPv4", std::move(endpoints)))
                  .ok());
  EXPECT_TRUE(WaitFor(10003, "10.100.39.15:8080"));
}

TEST_F(FaultMatrixTest, UnknownFieldsAndMissingOptionalFields) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  json endpoints = json::array({
      // No conditions at all: ready and serving default to true.
      {{"addresses", {"127.0.10.60"}}, {"futureField", {{"x", 1}}}},
      // Unknown condition, missing nodeName/zone/targetRef.
      {{"addresses", {"127.0.10.61"}}, {"conditions", {{"ready", true}, {"newCondition", true}}}},
      // No addresses: skipped.
      {{"conditions", {{"ready", true}}}},
  });
  json slice = SliceJson("web-odd", "IPv4", std::move(endpoints));
  slice["someNewTopLevelField"] = {{"a", json::array({1, 2})}};
  ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kEndpointSlices, std::move(slice)).ok());
  EXPECT_TRUE(WaitFor(5, "127.0.10.60:8080"));
  EXPECT_TRUE(WaitFor(5, "127.0.10.61:8080"));
  EXPECT_TRUE(discovery_->status().last_error.ok()) << discovery_->status().last_error;
}

TEST_F(FaultMatrixTest, Ipv6Addresses) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  ASSERT_TRUE(
      k8s_->store()
          .Create(fakek8s::Resource::kEndpointSlices,
                  SliceJson("web-v6", "IPv6",
                            json::array({{{"addresses", {"::1"}}}, {{"addresses", {"fd00::10"}}}})))
          .ok());
  EXPECT_TRUE(WaitFor(5, "[::1]:8080"));
  EXPECT_TRUE(WaitFor(5, "[fd00::10]:8080"));
}

TEST_F(FaultMatrixTest, DnsNamesAsEndpointAddresses) {
  // An FQDN slice (a selector-less Service pointing at names): the names are
  // kept and later dialled through gRPC's DNS resolver; nothing is dialled here.
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  ASSERT_TRUE(k8s_->store()
                  .Create(fakek8s::Resource::kEndpointSlices,
                          SliceJson("web-fqdn", "FQDN",
                                    json::array({{{"addresses", {"web-ext.example.test"}}}})))
                  .ok());
  EXPECT_TRUE(WaitFor(4, "web-ext.example.test:8080"));
}

TEST_F(FaultMatrixTest, DuplicateEndpointsAcrossSlicesCountOnce) {
  StartApi();
  StartDiscovery();
  ASSERT_TRUE(WaitFor(3));
  // Mid-move between slices, an address appears twice (once not ready).
  ASSERT_TRUE(k8s_->store()
                  .Create(fakek8s::Resource::kEndpointSlices,
                          SliceJson("web-dup", "IPv4",
                                    json::array({{{"addresses", {"127.0.10.1"}},
                                                  {"conditions", {{"ready", false}}}},
                                                 {{"addresses", {"127.0.10.70"}}},
                                                 {{"addresses", {"127.0.10.70"}}}})))
                  .ok());
  EXPECT_TRUE(WaitFor(4, "127.0.10.70:8080"));
  std::shared_ptr<const EndpointSet> set = discovery_->current();
  int ones = 0;
  for (const Endpoint& e : set->usable()) ones += e.address == "127.0.10.1" ? 1 : 0;
  EXPECT_EQ(ones, 1);  // the ready copy wins
}

TEST_F(FaultMatrixTest, ServicePortThatDisappears) {
  StartApi();
  DiscoveryOptions options = Fast();
  options.resync_interval = absl::Milliseconds(500);
  StartDiscovery(options);
  ASSERT_TRUE(WaitFor(3));
  // The Service drops port 80: the controller rewrites the slices without it,
  // so the endpoints go (the API says so; the pool empties with the reason),
  // and relists say why until the port returns.
  auto svc = k8s_->store().Get(fakek8s::Resource::kServices, "demo", "web");
  ASSERT_TRUE(svc.ok());
  json changed = *svc;
  changed["spec"]["ports"] =
      json::array({{{"name", "admin"}, {"port", 9090}, {"targetPort", 9090}}});
  ASSERT_TRUE(k8s_->store().Update(fakek8s::Resource::kServices, changed).ok());
  EXPECT_TRUE(WaitFor(0));
  absl::Status s = WaitForErrorCode(absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("has no port 80"));
  EXPECT_THAT(s.message(), HasSubstr("9090"));
  ExpectNamesTheService(s);
  // Put back: endpoints return.
  auto now = k8s_->store().Get(fakek8s::Resource::kServices, "demo", "web");
  ASSERT_TRUE(now.ok());
  json restored = *now;
  restored["spec"]["ports"] = (*svc)["spec"]["ports"];
  ASSERT_TRUE(k8s_->store().Update(fakek8s::Resource::kServices, restored).ok());
  EXPECT_TRUE(WaitFor(3));
}

// --- Credentials and TLS -------------------------------------------------------------

class CredentialsTest : public FaultMatrixTest {
 protected:
  std::string Dir() {
    std::string d = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mkdir(d.c_str(), 0700);
    return d;
  }
  static void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  }
};

TEST_F(CredentialsTest, TokenFileMissingOrNotAFileIsAClearErrorAtCreate) {
  StartApi();
  ClusterConfig c = Config();
  c.token_file = Dir() + "/missing-token";
  absl::Status s = HttpK8sClient::Create(c).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("cannot read the token file " + c.token_file));
  c.token_file = Dir();  // a directory (root can read any file, so "unreadable" is this)
  s = HttpK8sClient::Create(c).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("not a regular file"));
  c.token_file = "/dev/zero";  // would be read without end
  EXPECT_THAT(HttpK8sClient::Create(c).status().message(), HasSubstr("not a regular file"));
}

TEST_F(CredentialsTest, RotatedTokenIsPickedUpWithoutLosingThePool) {
  StartApi();
  k8s_->server().AddToken("token-one", "system:serviceaccount:demo:client");
  const std::string file = Dir() + "/token";
  WriteFile(file, "token-one\n");
  ClusterConfig c = Config();
  c.token_file = file;
  StartDiscovery(Fast(), c);
  ASSERT_TRUE(WaitFor(3));
  // The kubelet rotates the projected token; the old one stops working.
  WriteFile(file, "token-two\n");
  k8s_->server().AddToken("token-two", "system:serviceaccount:demo:client");
  k8s_->server().RemoveToken("token-one");
  k8s_->server().DropWatches();
  CreatePod("web-rot", "127.0.10.80");
  EXPECT_TRUE(WaitFor(4, "127.0.10.80:8080"));
  // The file disappears for a moment mid-rotation: the last token is kept.
  ASSERT_EQ(unlink(file.c_str()), 0);
  k8s_->server().DropWatches();
  CreatePod("web-rot2", "127.0.10.81");
  EXPECT_TRUE(WaitFor(5, "127.0.10.81:8080"));
}

TEST_F(CredentialsTest, WrongCaIsAClearTlsErrorAndNothingIsPublished) {
  StartApi();
  auto other = fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
  ASSERT_TRUE(other.ok());
  ClusterConfig c = Config();
  c.ca_pem = (*other)->server().ca_pem();  // a CA that did not sign this server
  StartDiscovery(Fast(), c);
  absl::Status s = WaitForErrorCode(absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("TLS handshake"));
  EXPECT_THAT(s.message(), HasSubstr("certificate"));
  ExpectNamesTheService(s);
  EXPECT_EQ(discovery_->current(), nullptr);
}

TEST_F(CredentialsTest, ExpiredServerCertificateIsRefused) {
  StartApi({.tls_valid_days = -1});
  StartDiscovery();
  absl::Status s = WaitForErrorCode(absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("certificate has expired"));
  ExpectNamesTheService(s);
  EXPECT_EQ(discovery_->current(), nullptr);
}

// --- Security --------------------------------------------------------------------

TEST_F(CredentialsTest, TokensNeverAppearInLogsOrErrors) {
  StartApi();
  const std::string secret = "s3cr3t-t0ken-value-that-must-not-leak";
  k8s_->server().AddToken("the-right-token", "someone");
  ::testing::internal::CaptureStderr();
  std::vector<std::string> messages;
  {
    // A wrong token (401), an insecure client (warning), errors of every kind.
    ClusterConfig c = Config();
    c.token = secret;
    c.insecure_skip_tls_verify = true;
    auto client = HttpK8sClient::Create(c);
    ASSERT_TRUE(client.ok()) << client.status();
    messages.push_back((*client)->GetService("demo", "web").status().ToString());
    messages.push_back((*client)
                           ->ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web")
                           .status()
                           .ToString());
    Cancellation cancel;
    messages.push_back((*client)
                           ->WatchEndpoints(
                               EndpointSource::kEndpointSlices, "demo", "web", {},
                               [](const WatchEvent&) {}, &cancel)
                           .ToString());
    const std::string file = Dir() + "/token";
    WriteFile(file, secret + "\n");
    c.token = "";
    c.token_file = file;
    auto from_file = HttpK8sClient::Create(c);
    ASSERT_TRUE(from_file.ok());
    messages.push_back((*from_file)->GetService("demo", "web").status().ToString());
  }
  {
    // A broken proxy that echoes the request, token and all, in its error body.
    k8s_->server().RespondToNextRequests(
        1, 500, "text/plain", "upstream failed; request was: Authorization: Bearer " + secret);
    ClusterConfig c = Config();
    c.token = secret;
    auto client = HttpK8sClient::Create(c);
    ASSERT_TRUE(client.ok());
    const std::string m = (*client)->GetService("demo", "web").status().ToString();
    EXPECT_THAT(m, HasSubstr("Authorization: Bearer <redacted>"));
    EXPECT_THAT(m, Not(HasSubstr(secret)));
  }
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logged, HasSubstr("WARNING: not verifying the TLS certificate"));
  EXPECT_THAT(logged, Not(HasSubstr(secret)));
  for (const std::string& m : messages) {
    EXPECT_THAT(m, HasSubstr("401")) << m;
    EXPECT_THAT(m, Not(HasSubstr(secret)));
  }
}

TEST_F(CredentialsTest, RedirectsAreNotFollowedWithCredentials) {
  StartApi();
  k8s_->server().AddToken("the-token", "someone");
  // Another host, on another loopback address, that records what reaches it.
  httplib::Server other;
  std::atomic<int> reached{0};
  other.Get(".*", [&](const httplib::Request&, httplib::Response& res) {
    ++reached;
    res.set_content("{}", "application/json");
  });
  const int port = other.bind_to_any_port("127.0.0.2");
  ASSERT_GT(port, 0);
  std::thread serve([&] { other.listen_after_bind(); });
  const std::string elsewhere = absl::StrCat("http://127.0.0.2:", port, "/steal");
  k8s_->server().RespondToNextRequests(3, 302, "text/html", "<a>moved</a>",
                                       {{"Location", elsewhere}});
  ClusterConfig c = Config();
  c.token = "the-token";
  auto client = HttpK8sClient::Create(c);
  ASSERT_TRUE(client.ok());
  absl::Status s = (*client)->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("does not follow redirects"));
  EXPECT_THAT(s.message(), HasSubstr(elsewhere));
  Cancellation cancel;
  s = (*client)->WatchEndpoints(
      EndpointSource::kEndpointSlices, "demo", "web", {}, [](const WatchEvent&) {}, &cancel);
  EXPECT_THAT(s.message(), HasSubstr("does not follow redirects"));
  other.stop();
  serve.join();
  EXPECT_EQ(reached.load(), 0);
}

}  // namespace
}  // namespace kubegrpc
