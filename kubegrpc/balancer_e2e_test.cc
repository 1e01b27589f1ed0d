// End to end: real gRPC echo servers on distinct loopback addresses (pods share
// a port and differ by IP), fakek8s over HTTPS in front of them, and the
// Balancer dialing them through the real HttpK8sClient.

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fakek8s/fake_kubernetes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/balancer.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "testing/fake_pod.h"
#include "testing/named_echo.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::Echo;
using ::kubegrpc::testing::EchoRequest;
using ::kubegrpc::testing::EchoResponse;
using json = nlohmann::json;

using EchoPod = ::kubegrpc::testing::NamedEcho;

// grpc.health.v1 with a switch.
class HealthPod final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* response) override {
    response->set_status(serving.load() ? grpc::health::v1::HealthCheckResponse::SERVING
                                        : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }
  std::atomic<bool> serving{true};
};

struct Pod {
  std::string name;
  std::string ip;
  std::unique_ptr<EchoPod> service;
  std::unique_ptr<HealthPod> health;
  std::unique_ptr<grpc::Server> server;
};

class BalancerE2ETest : public ::testing::Test {
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
    for (int i = 1; i <= 3; ++i) StartPod(i);
    ASSERT_TRUE(
        k8s_->store()
            .Create(fakek8s::Resource::kServices,
                    {{"metadata", {{"name", "echo"}, {"namespace", "demo"}}},
                     {"spec",
                      {{"selector", {{"app", "echo"}}},
                       {"ports",
                        json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", port_}}})}}}})
            .ok());
    ClusterConfig config;
    config.server = k8s_->server().url();
    config.ca_pem = k8s_->server().ca_pem();
    config.ns = "demo";
    auto balancer = Balancer::Create(config);
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
  }
  void TearDown() override {
    balancer_.reset();
    for (auto& [name, pod] : pods_) {
      if (pod.server) pod.server->Shutdown(std::chrono::system_clock::now());
    }
  }

  // A gRPC server on <subnet>.<i> and the shared port (the first one picks it),
  // and its Pod object, Running and Ready.
  void StartPod(int i) {
    Pod pod;
    pod.name = absl::StrCat("echo-", i);
    pod.ip = absl::StrCat(subnet_, i);
    pod.service = std::make_unique<EchoPod>(pod.name);
    pod.health = std::make_unique<HealthPod>();
    int bound = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat(pod.ip, ":", port_), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(pod.service.get());
    builder.RegisterService(pod.health.get());
    pod.server = builder.BuildAndStart();
    ASSERT_NE(pod.server, nullptr) << pod.ip << ":" << port_;
    ASSERT_GT(bound, 0);
    port_ = bound;
    ASSERT_TRUE(
        k8s_->store()
            .Create(fakek8s::Resource::kPods,
                    {{"metadata",
                      {{"name", pod.name}, {"namespace", "demo"}, {"labels", {{"app", "echo"}}}}},
                     {"spec", {{"containers", json::array({{{"name", "echo"}}})}}},
                     {"status",
                      {{"phase", "Running"},
                       {"podIP", pod.ip},
                       {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}})
            .ok());
    pods_[pod.name] = std::move(pod);
  }

  // Waits until the pool picks from exactly `n` READY endpoints.
  bool WaitForPicked(size_t n) {
    for (int i = 0; i < 3000; ++i) {
      std::vector<ServiceSnapshot> snap = balancer_->Snapshot();
      size_t picked = 0;
      for (const auto& s : snap) {
        for (const EndpointSnapshot& e : s.endpoints) {
          if (e.picked && e.state == ChannelState::kReady) ++picked;
        }
      }
      if (picked == n) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  std::map<std::string, int> Calls(const StubHandle<Echo>& handle, int n) {
    std::map<std::string, int> by_pod;
    for (int i = 0; i < n; ++i) {
      auto stub = handle.Next();
      EXPECT_TRUE(stub.ok()) << stub.status();
      if (!stub.ok()) continue;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      EchoRequest req;
      req.set_message("hi");
      EchoResponse resp;
      grpc::Status s = (*stub)->Echo(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      ++by_pod[resp.pod_name()];
    }
    return by_pod;
  }

  std::string subnet_;
  int port_ = 0;
  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
  std::map<std::string, Pod> pods_;
  std::unique_ptr<Balancer> balancer_;
};

TEST_F(BalancerE2ETest, RoundRobinScaleUpAndDeleteWithoutFailedCalls) {
  const std::string target = "echo.demo.svc.cluster.local:80";
  auto handle = balancer_->Connect<Echo>(target);
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE(balancer_->WaitForReady(target, absl::Now() + absl::Seconds(60)).ok());
  ASSERT_TRUE(WaitForPicked(3));

  // 1,000 calls split 334/333/333 (within one).
  std::map<std::string, int> split = Calls(*handle, 1000);
  ASSERT_EQ(split.size(), 3u);
  for (const auto& [pod, n] : split) {
    EXPECT_GE(n, 333) << pod;
    EXPECT_LE(n, 334) << pod;
  }

  // Scale to 5: the new pods get calls.
  StartPod(4);
  StartPod(5);
  ASSERT_TRUE(WaitForPicked(5));
  split = Calls(*handle, 500);
  EXPECT_EQ(split["echo-4"], 100);
  EXPECT_EQ(split["echo-5"], 100);

  // Delete a pod while calls run through the retry helper: none fails. Like a
  // real pod, the server keeps serving briefly (preStop) and then stops.
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::atomic<int> ok{0};
  absl::Mutex errors_mu;
  std::vector<std::string> errors;
  std::thread load([&] {
    while (!stop.load()) {
      EchoRequest req;
      req.set_message("x");
      EchoResponse resp;
      grpc::Status s = Call(*handle, &Echo::Stub::Echo, req, &resp, {.idempotent = true});
      (s.ok() ? ok : failed)++;
      if (!s.ok()) {
        absl::MutexLock lock(&errors_mu);
        errors.push_back(absl::StrCat(s.error_code(), ": ", s.error_message()));
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(k8s_->store().Delete(fakek8s::Resource::kPods, "demo", "echo-2").ok());
  absl::SleepFor(absl::Milliseconds(100));
  pods_["echo-2"].server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ASSERT_TRUE(WaitForPicked(4));
  // ...and a pod that crashes (no API change first): the helper moves on.
  pods_["echo-3"].server->Shutdown(std::chrono::system_clock::now() +
                                   std::chrono::milliseconds(100));
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  load.join();
  EXPECT_EQ(failed.load(), 0) << (errors.empty() ? "" : errors[0]);
  EXPECT_GT(ok.load(), 100);
  split = Calls(*handle, 30);  // the deleted pod gets nothing any more
  EXPECT_EQ(split.count("echo-2"), 0u);
}

TEST_F(BalancerE2ETest, GrpcHealthChecksTakeANotServingPodOutAndBack) {
  BalancerOptions options;
  options.pool.health.mode = HealthCheckOptions::Mode::kGrpcHealth;
  options.pool.health.interval = absl::Milliseconds(100);
  options.pool.health.timeout = absl::Seconds(5);  // a loaded machine answers late, not never
  ClusterConfig config;
  config.server = k8s_->server().url();
  config.ca_pem = k8s_->server().ca_pem();
  config.ns = "demo";
  auto balancer = Balancer::Create(config, options);
  ASSERT_TRUE(balancer.ok()) << balancer.status();
  balancer_ = *std::move(balancer);
  auto handle = balancer_->Connect<Echo>("echo:grpc");  // the named port, same Service
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(WaitForPicked(3));
  pods_["echo-1"].health->serving = false;
  ASSERT_TRUE(WaitForPicked(2));
  std::map<std::string, int> split = Calls(*handle, 60);
  EXPECT_EQ(split.count("echo-1"), 0u);
  pods_["echo-1"].health->serving = true;
  ASSERT_TRUE(WaitForPicked(3));
  split = Calls(*handle, 60);
  EXPECT_EQ(split["echo-1"], 20);
}

}  // namespace
}  // namespace kubegrpc
