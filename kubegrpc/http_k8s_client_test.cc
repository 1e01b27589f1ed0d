// HttpK8sClient and ServiceDiscovery against fakek8s over real HTTP(S) on loopback.

#include "kubegrpc/http_k8s_client.h"

#include <csignal>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/discovery.h"
#include "testing/subprocess.h"

namespace kubegrpc {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

json PodJson(const std::string& name, const std::string& ip, bool ready = true) {
  return {
      {"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", "web"}}}}},
      {"spec", {{"containers", json::array({{{"name", "web"}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", ip},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

class HttpK8sClientTest : public ::testing::Test {
 protected:
  void Start(bool tls) {
    auto k8s = fakek8s::FakeKubernetes::Start({.server = {.tls = tls}});
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    ASSERT_TRUE(
        fakek8s::SeedDemo(k8s_->store(), {.ns = "demo", .service = "web", .replicas = 3}).ok());
  }
  ClusterConfig Config(const std::string& token = "") {
    ClusterConfig c;
    c.server = k8s_->server().url();
    c.ca_pem = k8s_->server().ca_pem();
    c.token = token;
    c.source = "test";
    return c;
  }
  std::unique_ptr<HttpK8sClient> Client(ClusterConfig config, HttpK8sClient::Options options = {}) {
    auto client = HttpK8sClient::Create(std::move(config), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
};

TEST_F(HttpK8sClientTest, GetListAndWatchOverHttps) {
  Start(/*tls=*/true);
  k8s_->server().AddToken("t", "client");
  auto client = Client(Config("t"));
  absl::StatusOr<ServiceInfo> service = client->GetService("demo", "web");
  ASSERT_TRUE(service.ok()) << service.status();
  ASSERT_EQ(service->ports.size(), 1u);
  EXPECT_EQ(service->ports[0].name, "grpc");
  EXPECT_EQ(service->ports[0].port, 80);

  absl::StatusOr<EndpointObjectList> slices =
      client->ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web");
  ASSERT_TRUE(slices.ok()) << slices.status();
  ASSERT_EQ(slices->items.size(), 1u);
  ASSERT_EQ(slices->items[0].endpoints.size(), 3u);
  EXPECT_EQ(slices->items[0].endpoints[0].ports[0].port, 8080);
  EXPECT_EQ(slices->items[0].endpoints[0].pod_name, "web-0");
  EXPECT_EQ(slices->items[0].endpoints[0].ready, true);

  absl::StatusOr<EndpointObjectList> endpoints =
      client->ListEndpoints(EndpointSource::kEndpoints, "demo", "web");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  ASSERT_EQ(endpoints->items.size(), 1u);
  EXPECT_EQ(endpoints->items[0].endpoints.size(), 3u);

  // A watch from the list's version sees a new pod, then is cancelled.
  Cancellation cancel;
  std::vector<WatchEvent> events;
  absl::Notification saw_new_pod;
  std::thread watcher([&] {
    absl::Status s = client->WatchEndpoints(
        EndpointSource::kEndpointSlices, "demo", "web",
        {slices->resource_version, absl::Minutes(1)},
        [&](const WatchEvent& e) {
          events.push_back(e);
          for (const EndpointInfo& ep : e.object.endpoints) {
            if (ep.address == "127.0.10.9" && !saw_new_pod.HasBeenNotified()) saw_new_pod.Notify();
          }
        },
        &cancel);
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  });
  ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kPods, PodJson("web-9", "127.0.10.9")).ok());
  EXPECT_TRUE(saw_new_pod.WaitForNotificationWithTimeout(absl::Seconds(30)));
  cancel.Cancel();
  watcher.join();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, WatchEvent::Type::kModified);
}

// OpenSSL writes with write(): a write to a connection that is already closed
// raises SIGPIPE, which kills a process that does not ignore it. This test
// process cannot show that (fakek8s's HTTP server sets SIGPIPE to SIG_IGN), so
// a client-only child process cancels watches mid-stream and reuses connections
// the server dropped, with SIGPIPE at its default action.
TEST_F(HttpK8sClientTest, ClosedConnectionsNeverKillTheProcessWithSigpipe) {
  Start(/*tls=*/true);
  const std::string ca = absl::StrCat(std::getenv("TEST_TMPDIR"), "/ca.pem");
  std::ofstream(ca) << k8s_->server().ca_pem();
  const std::string probe = absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                                         std::getenv("TEST_WORKSPACE"), "/kubegrpc/sigpipe_probe");
  auto child = testing::Subprocess::Start({probe, k8s_->server().url(), ca});
  ASSERT_TRUE(child.ok()) << child.status();
  // Between its rounds the child asks for an outage: the server drops every
  // connection, so its pooled keep-alive connection is dead when next used.
  for (int round = 0; round < 10; ++round) {
    std::optional<std::string> line = (*child)->ReadLineContaining("round", absl::Seconds(60));
    ASSERT_TRUE(line.has_value()) << (*child)->output();
    k8s_->server().BeginOutage();
    ASSERT_TRUE(k8s_->server().EndOutage().ok());
  }
  EXPECT_EQ((*child)->Wait(absl::Seconds(60)), 0) << (*child)->output();
}

TEST_F(HttpK8sClientTest, ErrorsNameTheServiceAndTheCause) {
  Start(/*tls=*/false);
  k8s_->server().AddToken("good", "system:serviceaccount:demo:client");
  k8s_->server().SetRules("system:serviceaccount:demo:client", {{{"get"}, {"services"}, {"demo"}}});
  auto unknown = Client(Config("not-a-token"));
  absl::Status s = unknown->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("reading Service demo/web: HTTP 401"));
  // No credentials at all: anonymous, which a cluster answers with 403.
  auto anonymous = Client(Config(""));
  s = anonymous->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("reading Service demo/web: HTTP 403"));
  EXPECT_THAT(s.message(), HasSubstr("system:anonymous"));

  auto client = Client(Config("good"));
  s = client->ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("listing EndpointSlices of Service demo/web: HTTP 403"));
  EXPECT_THAT(s.message(), HasSubstr("cannot list resource \"endpointslices\""));
  EXPECT_THAT(s.message(), Not(HasSubstr("good")));  // never the token

  s = client->GetService("demo", "nope").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("services \"nope\" not found"));

  k8s_->server().FailNextRequests(1, 429, absl::Seconds(2), /*plain_text=*/true);
  s = client->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("Too many requests"));
  EXPECT_EQ(RetryAfter(s), absl::Seconds(2));

  k8s_->server().FailNextRequests(1, 503);
  EXPECT_EQ(client->GetService("demo", "web").status().code(), absl::StatusCode::kUnavailable);

  k8s_->server().BeginOutage();
  s = client->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("cannot reach the API server"));
  ASSERT_TRUE(k8s_->server().EndOutage().ok());
  EXPECT_TRUE(client->GetService("demo", "web").ok());
}

TEST_F(HttpK8sClientTest, WrongCaIsAClearTlsError) {
  Start(/*tls=*/true);
  auto other = fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
  ASSERT_TRUE(other.ok());
  ClusterConfig config = Config();
  config.ca_pem = (*other)->server().ca_pem();
  auto client = Client(config);
  absl::Status s = client->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("TLS handshake with the API server"));
  EXPECT_THAT(s.message(), HasSubstr("certificate"));

  config.ca_pem = "not a certificate";
  EXPECT_EQ(HttpK8sClient::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
  config.server = "ftp://127.0.0.1";
  EXPECT_EQ(HttpK8sClient::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpK8sClientTest, ServerNameOverrideAndExplicitInsecureMode) {
  Start(/*tls=*/true);
  ClusterConfig config = Config();
  // Connect to 127.0.0.1 but verify the name the certificate was issued for.
  config.tls_server_name = "localhost";
  EXPECT_TRUE(Client(config)->GetService("demo", "web").ok());
  config.tls_server_name = "kubernetes.example";  // not in the certificate
  absl::Status s = Client(config)->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("TLS handshake"));

  // Without the CA the system roots do not trust fakek8s...
  config = Config();
  config.ca_pem.clear();
  EXPECT_EQ(Client(config)->GetService("demo", "web").status().code(),
            absl::StatusCode::kUnavailable);
  // ...unless verification is turned off explicitly.
  config.insecure_skip_tls_verify = true;
  EXPECT_TRUE(Client(config)->GetService("demo", "web").ok());
}

TEST_F(HttpK8sClientTest, RotatedTokenFileIsPickedUpAfterA401) {
  Start(/*tls=*/true);
  const std::string token_file = std::string(std::getenv("TEST_TMPDIR")) + "/token";
  std::ofstream(token_file) << "old-token\n";
  k8s_->server().AddToken("old-token", "client");
  ClusterConfig config = Config();
  config.token_file = token_file;
  auto client = Client(config);  // re-reads only every 60 s...
  ASSERT_TRUE(client->GetService("demo", "web").ok());
  // The kubelet rotates the file; the server stops accepting the old token.
  std::ofstream(token_file) << "new-token\n";
  k8s_->server().AddToken("new-token", "client");
  k8s_->server().RemoveToken("old-token");
  // ...but a 401 makes it re-read at once and retry: no error reaches the caller.
  absl::StatusOr<ServiceInfo> s = client->GetService("demo", "web");
  EXPECT_TRUE(s.ok()) << s.status();
  // Watches too.
  k8s_->server().AddToken("newer-token", "client");
  k8s_->server().RemoveToken("new-token");
  std::ofstream(token_file) << "newer-token\n";
  Cancellation cancel;
  absl::Status w = client->WatchEndpoints(
      EndpointSource::kEndpointSlices, "demo", "web", {"", absl::Seconds(1)},
      [&](const WatchEvent&) {}, &cancel);
  EXPECT_TRUE(w.ok()) << w;
}

TEST_F(HttpK8sClientTest, ExpiredWatchIsAnErrorEventAndOversizedLinesEndTheStream) {
  Start(/*tls=*/false);
  auto client = Client(Config());
  const std::string old_rv = k8s_->store().CurrentResourceVersion();
  ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kPods, PodJson("web-9", "127.0.10.9")).ok());
  k8s_->server().CompactHistory();
  std::vector<WatchEvent> events;
  absl::Status s = client->WatchEndpoints(
      EndpointSource::kEndpointSlices, "demo", "web", {old_rv, absl::Seconds(30)},
      [&](const WatchEvent& e) { events.push_back(e); }, nullptr);
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kError);
  EXPECT_EQ(events[0].error.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(events[0].error.message(), HasSubstr("410 Expired"));

  HttpK8sClient::Options small;
  small.max_watch_line_bytes = 200;
  auto capped = Client(Config(), small);
  s = capped->WatchEndpoints(
      EndpointSource::kEndpointSlices, "demo", "web", {"", absl::Seconds(30)},
      [](const WatchEvent&) {}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("larger than 200 bytes"));
}

// ServiceDiscovery on real time against fakek8s: converge, follow changes, keep the
// set through an outage, recover from dropped and expired watches.
TEST_F(HttpK8sClientTest, DiscoveryConvergesAndSurvivesOutagesAndExpiry) {
  Start(/*tls=*/true);
  auto client = Client(Config());
  absl::Mutex mu;
  std::shared_ptr<const EndpointSet> latest;
  DiscoveryOptions options;
  options.backoff.initial = absl::Milliseconds(50);
  options.backoff.max = absl::Milliseconds(500);
  ServiceDiscovery discovery(client.get(), {"web", "demo", 80, ""}, options,
                             [&](std::shared_ptr<const EndpointSet> set, const EndpointDelta&) {
                               absl::MutexLock lock(&mu);
                               latest = set;
                             });
  auto wait_for = [&](size_t n, const std::string& must_have = "") {
    absl::MutexLock lock(&mu);
    auto ok = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      if (latest == nullptr || latest->usable().size() != n) return false;
      if (must_have.empty()) return true;
      for (const Endpoint& e : latest->usable()) {
        if (e.HostPort() == must_have) return true;
      }
      return false;
    };
    return mu.AwaitWithTimeout(absl::Condition(&ok), absl::Seconds(60));
  };
  discovery.Start();
  ASSERT_TRUE(wait_for(3, "127.0.10.1:8080"));

  ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kPods, PodJson("web-9", "127.0.10.9")).ok());
  ASSERT_TRUE(wait_for(4, "127.0.10.9:8080"));

  // Outage: the set stays, errors are reported; after it, changes flow again.
  k8s_->server().BeginOutage();
  k8s_->server().DropWatches();
  for (int i = 0; i < 600 && discovery.status().last_error.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(discovery.status().last_error.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(discovery.current()->usable().size(), 4u);
  ASSERT_TRUE(k8s_->server().EndOutage().ok());
  ASSERT_TRUE(k8s_->store().Delete(fakek8s::Resource::kPods, "demo", "web-0").ok());
  ASSERT_TRUE(wait_for(3));

  // Expired history: changes happen while discovery cannot watch, then the
  // history is compacted, so its next watch gets 410 and it relists.
  const int64_t lists_before = discovery.status().lists;
  k8s_->server().BeginOutage();
  ASSERT_TRUE(k8s_->store().Create(fakek8s::Resource::kPods, PodJson("web-8", "127.0.10.8")).ok());
  k8s_->server().CompactHistory();
  ASSERT_TRUE(k8s_->server().EndOutage().ok());
  ASSERT_TRUE(wait_for(4, "127.0.10.8:8080"));
  discovery.Stop();
  EXPECT_GT(discovery.status().lists, lists_before);
  EXPECT_GE(discovery.status().expired, 1);
}

}  // namespace
}  // namespace kubegrpc
