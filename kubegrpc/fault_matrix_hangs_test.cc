// The fault matrix, rows about what can hang or leak (docs/FAULTS.md): token
// files whose open blocks, API servers that accept and never answer or drop
// SYNs, keep-alive connections closed while idle, tokens cut short in quoted
// bodies. Real HttpK8sClient and ServiceDiscovery against fakek8s (or a raw
// socket that misbehaves) on loopback. Bounds are generous: each row checks
// that something ends or does not leak, not how fast.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/http_k8s_client.h"
#include "testing/blackhole.h"

namespace kubegrpc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TempDir() {
  std::string d = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  mkdir(d.c_str(), 0700);
  return d;
}

using ::kubegrpc::testing::Blackhole;

// Starts discovery of demo/web against `server` and stops it; returns how long
// Stop() took.
absl::Duration StopWhileTheServerHangs(const std::string& server) {
  ClusterConfig config;
  config.server = server;
  config.source = "the fault matrix";
  // Timeouts far longer than the bound below: only cancellation can end it.
  HttpK8sClient::Options options;
  options.connect_timeout = absl::Minutes(10);
  options.request_timeout = absl::Minutes(10);
  auto client = HttpK8sClient::Create(config, options);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return absl::InfiniteDuration();
  ServiceDiscovery discovery(client->get(), {"web", "demo", 80, ""}, {},
                             [](std::shared_ptr<const EndpointSet>, const EndpointDelta&) {});
  discovery.Start();
  absl::SleepFor(absl::Milliseconds(300));  // the first request is under way
  const absl::Time start = absl::Now();
  discovery.Stop();
  const absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(discovery.status().synced);
  return took;
}

TEST(HangsTest, StopEndsARequestToAServerThatNeverAnswers) {
  Blackhole server(Blackhole::Mode::kSilent);
  EXPECT_LT(StopWhileTheServerHangs(server.url()), absl::Minutes(1));
}

TEST(HangsTest, StopEndsAConnectWhoseSynsAreDropped) {
  Blackhole server(Blackhole::Mode::kDropsSyns);
  EXPECT_LT(StopWhileTheServerHangs(server.url()), absl::Minutes(1));
}

TEST(HangsTest, ARequestIsCancelledWhileConnecting) {
  Blackhole server(Blackhole::Mode::kDropsSyns);
  ClusterConfig config;
  config.server = server.url();
  HttpK8sClient::Options options;
  options.connect_timeout = absl::Minutes(10);
  auto client = HttpK8sClient::Create(config, options);
  ASSERT_TRUE(client.ok());
  Cancellation cancel;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(200));
    cancel.Cancel();
  });
  absl::Status s = (*client)->GetService("demo", "web", &cancel).status();
  canceller.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_THAT(s.message(), HasSubstr("reading Service demo/web"));
}

TEST(HangsTest, ATokenFileThatIsAFifoIsRefusedAtOnce) {
  const std::string fifo = TempDir() + "/token";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ClusterConfig config;
  config.server = "https://127.0.0.1:1";
  config.token_file = fifo;  // nobody writes it: an open without O_NONBLOCK blocks forever
  absl::Status s = HttpK8sClient::Create(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("not a regular file"));
  EXPECT_THAT(s.message(), HasSubstr(fifo));
}

class KeepAliveTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto k8s = fakek8s::FakeKubernetes::Start({.server = {.tls = GetParam()}});
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    ASSERT_TRUE(fakek8s::SeedDemo(k8s_->store(), {}).ok());
    ClusterConfig config;
    config.server = k8s_->server().url();
    config.ca_pem = k8s_->server().ca_pem();
    auto client = HttpK8sClient::Create(config);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
  std::unique_ptr<HttpK8sClient> client_;
};

// fakek8s closes keep-alive connections idle for a second, as servers and
// proxies do after their own timeouts.
TEST_P(KeepAliveTest, AConnectionClosedWhileIdleIsNotAnError) {
  ASSERT_TRUE(client_->GetService("demo", "web").ok());
  absl::SleepFor(absl::Milliseconds(1500));
  absl::StatusOr<ServiceInfo> again = client_->GetService("demo", "web");
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_P(KeepAliveTest, TheFirstRequestAfterTheApiServerRestartsSucceeds) {
  ASSERT_TRUE(client_->GetService("demo", "web").ok());
  k8s_->server().BeginOutage();
  ASSERT_TRUE(k8s_->server().EndOutage().ok());
  absl::StatusOr<ServiceInfo> again = client_->GetService("demo", "web");
  EXPECT_TRUE(again.ok()) << again.status();
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, KeepAliveTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Tls" : "Plain"; });

TEST(ErrorWordsTest, ARefusedConnectionSaysSo) {
  // A port nothing listens on: bind one, then close it.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  ClusterConfig config;
  config.server = absl::StrCat("http://127.0.0.1:", ntohs(a.sin_port));
  auto client = HttpK8sClient::Create(config);
  ASSERT_TRUE(client.ok());
  absl::Status s = (*client)->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("connection refused"));
  EXPECT_THAT(s.message(), Not(HasSubstr(": Connection")));  // httplib's enum name
}

TEST(ErrorWordsTest, ASilentServerIsATimeoutInWords) {
  Blackhole server(Blackhole::Mode::kSilent);
  ClusterConfig config;
  config.server = server.url();
  HttpK8sClient::Options options;
  options.request_timeout = absl::Milliseconds(300);  // the behaviour, not the speed
  auto client = HttpK8sClient::Create(config, options);
  ASSERT_TRUE(client.ok());
  absl::Status s = (*client)->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("no answer within 300ms"));
}

TEST(RedactionTest, ATokenCutWhereAnErrorQuoteEndsDoesNotLeakInPart) {
  auto k8s = fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
  ASSERT_TRUE(k8s.ok());
  const std::string secret = "s3cr3t-TOKEN-value-that-must-not-leak-at-all";
  (*k8s)->server().AddToken(secret, "someone");
  ClusterConfig config;
  config.server = (*k8s)->server().url();
  config.ca_pem = (*k8s)->server().ca_pem();
  config.token = secret;
  auto client = HttpK8sClient::Create(config);
  ASSERT_TRUE(client.ok());
  // An error body that echoes the token so that the quote (its first 200
  // bytes) ends inside it, with and without an Authorization header around it;
  // and a 200 that is not JSON (quoted shorter).
  for (size_t cut : {6, 10, 17}) {
    for (const std::string prefix : {"x-echo: ", "Authorization: Bearer "}) {
      const std::string lead(200 - prefix.size() - cut, '.');
      (*k8s)->server().RespondToNextRequests(1, 500, "text/plain", lead + prefix + secret);
      const std::string m = (*client)->GetService("demo", "web").status().ToString();
      EXPECT_THAT(m, Not(HasSubstr(secret.substr(0, cut)))) << m;
    }
    (*k8s)->server().RespondToNextRequests(1, 200, "text/plain",
                                           std::string(60 - cut, '.') + secret);
    const std::string m = (*client)->GetService("demo", "web").status().ToString();
    EXPECT_THAT(m, Not(HasSubstr(secret.substr(0, cut)))) << m;
  }
}

TEST(WarningsTest, APlainHttpServerWithATokenIsWarnedAbout) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";
  config.token = "a-token";
  config.source = "a kubeconfig";
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(HttpK8sClient::Create(config).ok());
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logged, HasSubstr("is plain http"));
  EXPECT_THAT(logged, Not(HasSubstr("a-token")));
}

}  // namespace
}  // namespace kubegrpc
