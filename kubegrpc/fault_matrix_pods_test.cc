// The fault matrix, pod side: each test is one row of docs/FAULTS.md. Real gRPC
// servers on distinct loopback addresses, fakek8s over HTTPS, and the Balancer
// dialing them: pods that accept TCP and never answer, a user's Ping that
// hangs, and TLS / mTLS to pods with a server-name override.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/tls.h"
#include "gmock/gmock.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "kubegrpc/balancer.h"
#include "testing/fake_pod.h"
#include "testing/named_echo.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::Echo;
using ::kubegrpc::testing::EchoRequest;
using ::kubegrpc::testing::EchoResponse;
using ::testing::HasSubstr;
using json = nlohmann::json;

using EchoPod = ::kubegrpc::testing::NamedEcho;

// A listener that accepts TCP connections and never sends a byte (a pod whose
// process is wedged, or a port held by something that is not gRPC).
class BlackHole {
 public:
  bool Listen(const std::string& ip, int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    if (listen(fd_, 64) != 0) return false;
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // closed
        accepted_.fetch_add(1);
        held_.push_back(c);
      }
    });
    return true;
  }
  ~BlackHole() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
    for (int c : held_) close(c);
  }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  std::vector<int> held_;  // only the accept thread touches it until the join
};

class PodFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A /24 of loopback per test process, so parallel tests do not collide.
    subnet_ = testing::LoopbackSubnet().prefix();
    auto k8s = fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    ASSERT_TRUE(k8s_->store()
                    .Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}})
                    .ok());
  }
  void TearDown() override {
    balancer_.reset();
    for (auto& [name, server] : servers_) server->Shutdown(std::chrono::system_clock::now());
  }
  void CreateService() {
    ASSERT_TRUE(
        k8s_->store()
            .Create(fakek8s::Resource::kServices,
                    {{"metadata", {{"name", "echo"}, {"namespace", "demo"}}},
                     {"spec",
                      {{"selector", {{"app", "echo"}}},
                       {"ports",
                        json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", port_}}})}}}})
            .ok());
  }
  void CreatePodObject(const std::string& name, const std::string& ip) {
    ASSERT_TRUE(
        k8s_->store()
            .Create(fakek8s::Resource::kPods,
                    {{"metadata",
                      {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", "echo"}}}}},
                     {"spec", {{"containers", json::array({{{"name", "echo"}}})}}},
                     {"status",
                      {{"phase", "Running"},
                       {"podIP", ip},
                       {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}})
            .ok());
  }
  // An echo server on <subnet>.<i> and the shared port, and its Pod object.
  void StartPod(
      int i, std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials()) {
    const std::string name = absl::StrCat("echo-", i);
    const std::string ip = absl::StrCat(subnet_, i);
    services_[name] = std::make_unique<EchoPod>(name);
    int bound = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat(ip, ":", port_), creds, &bound);
    builder.RegisterService(services_[name].get());
    servers_[name] = builder.BuildAndStart();
    ASSERT_NE(servers_[name], nullptr);
    ASSERT_GT(bound, 0);
    port_ = bound;
    CreatePodObject(name, ip);
  }
  void MakeBalancer(BalancerOptions options = {}) {
    ClusterConfig config;
    config.server = k8s_->server().url();
    config.ca_pem = k8s_->server().ca_pem();
    config.ns = "demo";
    auto balancer = Balancer::Create(config, std::move(options));
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
  }
  StubHandle<Echo> Stubs() {
    auto handle = balancer_->Connect<Echo>("echo.demo:80");
    EXPECT_TRUE(handle.ok()) << handle.status();
    return handle.ok() ? *handle : StubHandle<Echo>();
  }
  // Waits until `n` endpoints of the Service are READY (all handshakes done).
  bool WaitForReadyEndpoints(size_t n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (absl::Now() < give_up) {
      size_t ready = 0;
      for (const ServiceSnapshot& s : balancer_->Snapshot()) {
        for (const EndpointSnapshot& e : s.endpoints) ready += e.state == ChannelState::kReady;
      }
      if (ready == n) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }
  // `n` calls through kubegrpc::Call; the pods that answered, and the failures.
  std::map<std::string, int> Calls(const StubHandle<Echo>& stubs, int n, int* failed,
                                   absl::Duration timeout = absl::Seconds(30)) {
    std::map<std::string, int> by_pod;
    *failed = 0;
    for (int i = 0; i < n; ++i) {
      EchoRequest req;
      req.set_message("hi");
      EchoResponse resp;
      grpc::Status s =
          Call(stubs, &Echo::Stub::Echo, req, &resp, {.idempotent = true, .timeout = timeout});
      if (s.ok()) {
        ++by_pod[resp.pod_name()];
      } else {
        ++*failed;
        last_error_ = s;
      }
    }
    return by_pod;
  }

  std::string subnet_;
  int port_ = 0;
  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
  std::map<std::string, std::unique_ptr<EchoPod>> services_;
  std::map<std::string, std::unique_ptr<grpc::Server>> servers_;
  std::unique_ptr<Balancer> balancer_;
  grpc::Status last_error_;
};

TEST_F(PodFaultsTest, PodsThatAcceptTcpButNeverAnswerGetNoCalls) {
  StartPod(1);
  StartPod(2);
  BlackHole hole;
  ASSERT_TRUE(hole.Listen(absl::StrCat(subnet_, 9), port_));
  CreatePodObject("echo-9", absl::StrCat(subnet_, 9));
  CreateService();
  MakeBalancer();
  StubHandle<Echo> stubs = Stubs();
  ASSERT_TRUE(WaitForReadyEndpoints(2));
  // gRPC dialled the black hole (it is in the pool) but its channel never gets
  // READY, so no call is sent there and none fails.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (hole.accepted() == 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_GT(hole.accepted(), 0);
  int failed = 0;
  std::map<std::string, int> by_pod = Calls(stubs, 60, &failed);
  EXPECT_EQ(failed, 0) << last_error_.error_message();
  EXPECT_EQ(by_pod.size(), 2u);
  EXPECT_EQ(by_pod.count("echo-9"), 0u);
  for (const ServiceSnapshot& s : balancer_->Snapshot()) {
    for (const EndpointSnapshot& e : s.endpoints) {
      if (absl::StrContains(e.host_port, absl::StrCat(subnet_, 9, ":"))) {
        EXPECT_NE(e.state, ChannelState::kReady);
      }
    }
  }
}

TEST_F(PodFaultsTest, OnlyBlackHolesIsABoundedClearFailure) {
  BlackHole hole;
  port_ = 0;
  // Any free port on the subnet: bind a throw-away server to learn one.
  StartPod(1);
  servers_["echo-1"]->Shutdown(std::chrono::system_clock::now());
  servers_.erase("echo-1");
  ASSERT_TRUE(k8s_->store().Delete(fakek8s::Resource::kPods, "demo", "echo-1").ok());
  ASSERT_TRUE(hole.Listen(absl::StrCat(subnet_, 9), port_));
  CreatePodObject("echo-9", absl::StrCat(subnet_, 9));
  CreateService();
  MakeBalancer();
  StubHandle<Echo> stubs = Stubs();
  EXPECT_EQ(balancer_->WaitForReady("echo.demo:80", absl::Now() + absl::Seconds(1)).code(),
            absl::StatusCode::kDeadlineExceeded);
  const absl::Time start = absl::Now();
  int failed = 0;
  Calls(stubs, 1, &failed, absl::Milliseconds(500));
  EXPECT_EQ(failed, 1);
  EXPECT_TRUE(last_error_.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
              last_error_.error_code() == grpc::StatusCode::UNAVAILABLE)
      << last_error_.error_message();
  // Bounded by the call's own deadline (x attempts), not stuck on the pod.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
}

// The original interface with a Ping that never returns for one pod.
class HangingPinger : public GrpcKubeBalancer<Echo::Stub> {
 public:
  std::unique_ptr<Echo::Stub> NewGrpcClient(const std::shared_ptr<grpc::Channel>& c) override {
    return Echo::NewStub(c);
  }
  absl::Status Ping(Echo::Stub& client) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    EchoRequest req;
    EchoResponse resp;
    grpc::Status s = client.Echo(&ctx, req, &resp);
    if (s.ok() && resp.pod_name() == hang_for) {
      ++hung;
      release.WaitForNotification();  // the user's code is stuck
    }
    return s.ok() ? absl::OkStatus() : absl::UnavailableError(s.error_message());
  }
  std::string hang_for;
  std::atomic<int> hung{0};
  absl::Notification release;
};

TEST_F(PodFaultsTest, AUserPingThatHangsTakesOnlyItsPodOut) {
  StartPod(1);
  StartPod(2);
  StartPod(3);
  CreateService();
  BalancerOptions options;
  // A timeout far longer than a healthy check takes even on a loaded machine:
  // the behaviour under test is the hung one's, not how fast it is seen.
  options.pool.health.interval = absl::Milliseconds(200);
  options.pool.health.timeout = absl::Seconds(5);
  MakeBalancer(options);
  HangingPinger pinger;
  pinger.hang_for = "echo-2";
  auto first = Connect(*balancer_, "echo.demo:80", pinger);  // installs the Ping
  ASSERT_TRUE(balancer_->WaitForReady("echo.demo:80", absl::Now() + absl::Seconds(60)).ok());
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  std::map<std::string, int> by_pod;
  for (;;) {
    by_pod.clear();
    for (int i = 0; i < 30; ++i) {
      auto client = Connect(*balancer_, "echo.demo:80", pinger);
      ASSERT_TRUE(client.ok()) << client.status();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      EchoRequest req;
      EchoResponse resp;
      ASSERT_TRUE((*client)->Echo(&ctx, req, &resp).ok());
      ++by_pod[resp.pod_name()];
    }
    if (by_pod.count("echo-2") == 0 || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(by_pod.count("echo-2"), 0u) << "the pod whose Ping hangs stayed in rotation";
  EXPECT_EQ(by_pod.size(), 2u);
  EXPECT_EQ(pinger.hung.load(), 1);  // no pile-up of checks behind the hung one
  // Shutting down does not wait for the stuck Ping.
  const absl::Time start = absl::Now();
  balancer_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  pinger.release.Notify();
  absl::SleepFor(absl::Milliseconds(100));  // the abandoned check returns harmlessly
}

// --- TLS and mTLS to pods ----------------------------------------------------------

class PodTlsTest : public PodFaultsTest {
 protected:
  void SetUpCerts() {
    // The pods' certificates name the Service, not the pod IPs (as with a
    // cert-manager Certificate for echo.demo.svc), so clients override the name.
    auto pods = fakek8s::GenerateServerCertificates({"echo.demo.svc"});
    auto client = fakek8s::GenerateServerCertificates({"client.demo"});
    ASSERT_TRUE(pods.ok() && client.ok());
    pods_ = *std::move(pods);
    client_ = *std::move(client);
  }
  std::shared_ptr<grpc::ServerCredentials> ServerCreds(bool require_client_cert) {
    grpc::SslServerCredentialsOptions o(
        require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    o.pem_root_certs = client_.ca_pem;
    o.pem_key_cert_pairs.push_back({pods_.key_pem, pods_.cert_pem});
    return grpc::SslServerCredentials(o);
  }
  BalancerOptions ClientOptions(bool override_name, bool present_cert) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = pods_.ca_pem;
    if (present_cert) {
      o.pem_private_key = client_.key_pem;
      o.pem_cert_chain = client_.cert_pem;
    }
    BalancerOptions options;
    options.credentials = grpc::SslCredentials(o);
    if (override_name) {
      options.channel_args.SetSslTargetNameOverride("echo.demo.svc");
    }
    return options;
  }
  // Both pods READY (handshakes done), and they serve every call.
  void ExpectBothPodsServe() {
    StubHandle<Echo> stubs = Stubs();
    ASSERT_TRUE(WaitForReadyEndpoints(2));
    int failed = 0;
    EXPECT_EQ(Calls(stubs, 20, &failed).size(), 2u);
    EXPECT_EQ(failed, 0) << last_error_.error_message();
  }
  // The handshake is refused: nothing gets READY and a call fails in its deadline.
  void ExpectNothingConnects() {
    StubHandle<Echo> stubs = Stubs();
    EXPECT_EQ(balancer_->WaitForReady("echo.demo:80", absl::Now() + absl::Seconds(2)).code(),
              absl::StatusCode::kDeadlineExceeded);
    int failed = 0;
    Calls(stubs, 1, &failed, absl::Seconds(1));
    EXPECT_EQ(failed, 1);
  }
  fakek8s::ServerCertificates pods_;
  fakek8s::ServerCertificates client_;
};

TEST_F(PodTlsTest, TlsWithServerNameOverride) {
  SetUpCerts();
  StartPod(1, ServerCreds(false));
  StartPod(2, ServerCreds(false));
  CreateService();
  MakeBalancer(ClientOptions(/*override_name=*/true, /*present_cert=*/false));
  ExpectBothPodsServe();
}

TEST_F(PodTlsTest, TlsIsVerifiedWithoutTheOverrideNothingConnects) {
  SetUpCerts();
  StartPod(1, ServerCreds(false));
  CreateService();
  // The certificate names echo.demo.svc, the channel dials an IP: refused.
  MakeBalancer(ClientOptions(/*override_name=*/false, /*present_cert=*/false));
  ExpectNothingConnects();
}

TEST_F(PodTlsTest, MutualTls) {
  SetUpCerts();
  StartPod(1, ServerCreds(/*require_client_cert=*/true));
  StartPod(2, ServerCreds(/*require_client_cert=*/true));
  CreateService();
  MakeBalancer(ClientOptions(/*override_name=*/true, /*present_cert=*/true));
  ExpectBothPodsServe();
}

TEST_F(PodTlsTest, MutualTlsWithoutAClientCertificateIsRefused) {
  SetUpCerts();
  StartPod(1, ServerCreds(/*require_client_cert=*/true));
  CreateService();
  MakeBalancer(ClientOptions(/*override_name=*/true, /*present_cert=*/false));
  ExpectNothingConnects();
}

}  // namespace
}  // namespace kubegrpc
