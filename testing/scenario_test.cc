// Scenario suite: a FakeCluster (fakek8s + real gRPC pods on loopback) under
// steady load while pods scale, crash, restart, roll and the API server
// misbehaves, through both doors:
// - Pool: a Balancer, calls through the retry helper (idempotent);
// - Xds: an XdsChannels channel, balanced by gRPC's own xDS client from
//   kube-grpc's ADS server, with the Service's kube-grpc.io/retry annotation
//   asking gRPC for the same retries.
// Assertions, the same in both: no failed call, traffic reaches every ready pod
// and no pod after it left, convergence within generous bounds. One
// XdsChannels at a time per process: each test starts and shuts down its own.

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/balancer.h"
#include "kubegrpc/xds/xds_channels.h"
#include "testing/fake_cluster.h"
#include "testing/load_generator.h"

namespace kubegrpc::testing {
namespace {

constexpr absl::Duration kConverge = absl::Seconds(30);  // generous: CI machines are busy

enum class Door { kPool, kXds };

class ScenarioTest : public ::testing::TestWithParam<Door>, private ServiceRegistry::Subscriber {
 protected:
  bool xds() const { return GetParam() == Door::kXds; }

  // `token_file`: the API requires the token in it, and the Balancer reads it.
  void Begin(int replicas, BalancerOptions options = {}, const std::string& token_file = "") {
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    DeploymentSpec spec{.name = "web", .replicas = replicas};
    if (xds()) {
      spec.service_annotations["kube-grpc.io/retry"] =
          R"({"retryOn": "unavailable,cancelled", "numRetries": 2})";
    }
    ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
    ClusterConfig config = cluster_->client_config();
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      std::string token;
      in >> token;
      cluster_->api().AddToken(token, "system:serviceaccount:demo:client");
      config.token_file = token_file;
    }
    options.discovery.backoff.initial = absl::Milliseconds(50);
    options.discovery.backoff.max = absl::Milliseconds(500);
    options.pool.drain_grace = absl::Seconds(2);
    const LoadOptions load{.threads = 2, .rate = 400};
    if (xds()) {
      xds::XdsChannelsOptions xds_options;
      xds_options.discovery = options.discovery;
      xds_options.node_id = "scenario-test";
      auto channels = xds::XdsChannels::Start(config, xds_options);
      ASSERT_TRUE(channels.ok()) << channels.status();
      xds_ = *std::move(channels);
      auto target = ParseTarget("web.demo.svc.cluster.local:80");
      ASSERT_TRUE(target.ok());
      subscription_ = xds_->registry()->Subscribe(*target, this);
      auto channel = xds_->Channel("web.demo.svc.cluster.local:80");
      ASSERT_TRUE(channel.ok()) << channel.status();
      load_ = std::make_unique<LoadGenerator>(*channel, load);
      load_->Start();
      ASSERT_TRUE(WaitForPods(cluster_->Pods("web")));
      return;
    }
    auto balancer = Balancer::Create(config, options);
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
    auto handle = balancer_->Connect<Echo>("web.demo.svc.cluster.local:80");
    ASSERT_TRUE(handle.ok()) << handle.status();
    ASSERT_TRUE(WaitForPods(cluster_->Pods("web")));
    load_ = std::make_unique<LoadGenerator>(*handle, load);
    load_->Start();
  }
  void TearDown() override {
    if (load_) load_->Stop();
    load_.reset();  // its channel before the XdsChannels
    subscription_.reset();
    xds_.reset();
    balancer_.reset();
  }

  // What discovery reports now (the Balancer's, or the xDS server's registry's).
  DiscoveryStatus Discovery() {
    if (xds()) return subscription_->status();
    return balancer_->Snapshot()[0].discovery;
  }

  // Waits until exactly `pods` are picked and READY (the pool), or get all the
  // calls (xDS: gRPC's picker is not visible).
  bool WaitForPods(std::vector<std::string> pods) {
    if (xds()) return WaitForTrafficOnly(pods);
    std::sort(pods.begin(), pods.end());
    const absl::Time deadline = absl::Now() + kConverge;
    while (absl::Now() < deadline) {
      std::vector<std::string> picked;
      for (const auto& s : balancer_->Snapshot()) {
        for (const EndpointSnapshot& e : s.endpoints) {
          if (e.picked && e.state == ChannelState::kReady) picked.push_back(e.pod_name);
        }
      }
      std::sort(picked.begin(), picked.end());
      if (picked == pods) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Calls per pod over the last `n` complete intervals.
  std::map<std::string, int64_t> Recent(int n = 5) {
    LoadReport r = load_->Snapshot();
    std::map<std::string, int64_t> out;
    const int last = static_cast<int>(r.timeline.size()) - 1;  // may be incomplete
    for (int i = std::max(0, last - n); i < last; ++i) {
      for (const auto& [pod, count] : r.timeline[i]) out[pod] += count;
    }
    return out;
  }

  // Waits until every pod of `pods` answered in recent intervals and no other did.
  bool WaitForTrafficOnly(const std::vector<std::string>& pods) {
    const absl::Time deadline = absl::Now() + kConverge;
    while (absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(600));
      std::map<std::string, int64_t> recent = Recent();
      bool ok = recent.size() == pods.size();
      for (const std::string& p : pods) ok = ok && recent[p] > 0;
      if (ok) return true;
    }
    return false;
  }

  // The stated tolerance: over a window after convergence, each ready pod's
  // share of calls is within 50 % of an even split.
  void ExpectBalanced(const std::vector<std::string>& pods) {
    absl::SleepFor(absl::Milliseconds(700));  // a window that starts after convergence
    std::map<std::string, int64_t> recent = Recent(5);
    int64_t total = 0;
    for (const auto& [pod, n] : recent) total += n;
    EXPECT_EQ(recent.size(), pods.size());
    const double even = static_cast<double>(total) / pods.size();
    for (const std::string& pod : pods) {
      EXPECT_NEAR(static_cast<double>(recent[pod]), even, even * 0.5) << pod;
    }
  }

  void ExpectNoFailures() {
    LoadReport r = load_->Snapshot();
    EXPECT_EQ(r.failed, 0) << (r.failures.empty() ? "" : r.failures.begin()->first);
    EXPECT_GT(r.ok, 100);
  }

  void OnEndpoints(const std::shared_ptr<const EndpointSet>&, const EndpointDelta&) override {}

  std::unique_ptr<FakeCluster> cluster_;
  std::unique_ptr<Balancer> balancer_;
  std::unique_ptr<xds::XdsChannels> xds_;
  std::unique_ptr<ServiceRegistry::Subscription> subscription_;
  std::unique_ptr<LoadGenerator> load_;
};

INSTANTIATE_TEST_SUITE_P(BothDoors, ScenarioTest, ::testing::Values(Door::kPool, Door::kXds),
                         [](const ::testing::TestParamInfo<Door>& info) {
                           return info.param == Door::kXds ? "Xds" : "Pool";
                         });

TEST_P(ScenarioTest, ScaleUpThreeToSix) {
  Begin(3);
  ASSERT_TRUE(cluster_->ScaleTo("web", 6).ok());
  ASSERT_TRUE(WaitForPods(cluster_->Pods("web")));
  ASSERT_TRUE(WaitForTrafficOnly(cluster_->Pods("web")));
  // Round-robin over six ready pods: each gets its share (within 35 %).
  absl::SleepFor(absl::Seconds(1));
  std::map<std::string, int64_t> recent = Recent(8);
  int64_t total = 0;
  for (const auto& [pod, n] : recent) total += n;
  for (const auto& [pod, n] : recent) {
    EXPECT_NEAR(static_cast<double>(n), total / 6.0, total / 6.0 * 0.35) << pod;
  }
  ExpectNoFailures();
}

TEST_P(ScenarioTest, ScaleDownSixToTwo) {
  Begin(6);
  std::vector<std::string> before = cluster_->Pods("web");
  ASSERT_TRUE(cluster_->ScaleTo("web", 2).ok());
  const int after_scale = load_->CurrentInterval();
  ASSERT_TRUE(WaitForTrafficOnly(cluster_->Pods("web")));
  ExpectBalanced(cluster_->Pods("web"));
  LoadReport r = load_->Snapshot();
  for (const std::string& pod : before) {
    if (pod == "web-0" || pod == "web-1") continue;
    // Removed pods get no calls after their removal completed (+1 interval for
    // calls already in flight).
    EXPECT_LE(r.LastIntervalWith(pod), after_scale + 1) << pod;
  }
  ExpectNoFailures();
}

TEST_P(ScenarioTest, CrashAndRestartOnTheSameAddress) {
  Begin(3);
  ASSERT_TRUE(cluster_->CrashPod("web-1", absl::Milliseconds(500)).ok());
  EXPECT_EQ(cluster_->pod("web-1")->incarnation(), 2);
  ASSERT_TRUE(WaitForPods({"web-0", "web-1", "web-2"}));
  ASSERT_TRUE(WaitForTrafficOnly({"web-0", "web-1", "web-2"}));
  ExpectBalanced({"web-0", "web-1", "web-2"});
  ExpectNoFailures();
}

TEST_P(ScenarioTest, DeleteAndRecreateWithANewAddress) {
  Begin(3);
  ASSERT_TRUE(cluster_->RecreatePod("web-1").ok());
  ASSERT_TRUE(WaitForTrafficOnly({"web-0", "web-2", "web-3"}));
  ExpectBalanced({"web-0", "web-2", "web-3"});
  ExpectNoFailures();
}

TEST_P(ScenarioTest, RollingUpdateOfAllPods) {
  Begin(3);
  ASSERT_TRUE(cluster_->RollingUpdate("web").ok());
  EXPECT_THAT(cluster_->Pods("web"), ::testing::ElementsAre("web-3", "web-4", "web-5"));
  ASSERT_TRUE(WaitForTrafficOnly({"web-3", "web-4", "web-5"}));
  ExpectBalanced({"web-3", "web-4", "web-5"});
  ExpectNoFailures();
}

TEST_P(ScenarioTest, RollingUpdateTwoAtATimeWithOneUnavailable) {
  Begin(4);
  ASSERT_TRUE(cluster_->RollingUpdate("web", /*max_surge=*/1, /*max_unavailable=*/1).ok());
  EXPECT_THAT(cluster_->Pods("web"), ::testing::ElementsAre("web-4", "web-5", "web-6", "web-7"));
  ASSERT_TRUE(WaitForTrafficOnly({"web-4", "web-5", "web-6", "web-7"}));
  ExpectBalanced({"web-4", "web-5", "web-6", "web-7"});
  ExpectNoFailures();
}

TEST_P(ScenarioTest, TokenRotation) {
  const std::string token_file = std::string(std::getenv("TEST_TMPDIR")) + "/token";
  std::ofstream(token_file) << "first-token\n";
  Begin(3, {}, token_file);
  // The kubelet rotates the token; the API server stops accepting the old one
  // and its watches end, so the Balancer's next requests get 401 and re-read it.
  std::ofstream(token_file) << "second-token\n";
  cluster_->api().AddToken("second-token", "system:serviceaccount:demo:client");
  cluster_->api().RemoveToken("first-token");
  cluster_->api().DropWatches();
  ASSERT_TRUE(cluster_->ScaleTo("web", 4).ok());
  ASSERT_TRUE(WaitForTrafficOnly({"web-0", "web-1", "web-2", "web-3"}));
  ExpectBalanced({"web-0", "web-1", "web-2", "web-3"});
  EXPECT_GE(cluster_->api().RequestCounts()["unauthorized"], 1);
  ExpectNoFailures();
}

TEST_P(ScenarioTest, ReadinessFlapping) {
  Begin(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cluster_->SetPodReady("web-2", false).ok());
    ASSERT_TRUE(WaitForPods({"web-0", "web-1"}));
    ASSERT_TRUE(cluster_->SetPodReady("web-2", true).ok());
    ASSERT_TRUE(WaitForPods({"web-0", "web-1", "web-2"}));
  }
  ASSERT_TRUE(WaitForTrafficOnly({"web-0", "web-1", "web-2"}));
  ExpectNoFailures();
}

TEST_P(ScenarioTest, ApiOutageLongerThanTheResyncKeepsThePoolServing) {
  BalancerOptions options;
  options.discovery.resync_interval = absl::Seconds(1);
  Begin(3, options);
  cluster_->api().BeginOutage();
  absl::SleepFor(absl::Seconds(3));  // three resync intervals without an API
  EXPECT_TRUE(WaitForTrafficOnly({"web-0", "web-1", "web-2"}));
  EXPECT_FALSE(Discovery().last_error.ok());
  ASSERT_TRUE(cluster_->api().EndOutage().ok());
  // Changes flow again once the API is back.
  ASSERT_TRUE(cluster_->ScaleTo("web", 4).ok());
  ASSERT_TRUE(WaitForTrafficOnly({"web-0", "web-1", "web-2", "web-3"}));
  ExpectNoFailures();
}

TEST_P(ScenarioTest, ExpiredWatchStorm) {
  Begin(3);
  for (int i = 0; i < 5; ++i) {
    // Changes the watcher misses, then a compacted history: 410 on resume.
    cluster_->api().BeginOutage();
    ASSERT_TRUE(cluster_->SetPodReady("web-0", i % 2 == 1).ok());
    cluster_->api().CompactHistory();
    ASSERT_TRUE(cluster_->api().EndOutage().ok());
    absl::SleepFor(absl::Milliseconds(100));
  }
  // The last step left web-0 not ready: discovery relisted and knows.
  ASSERT_TRUE(WaitForPods({"web-1", "web-2"}));
  EXPECT_GE(Discovery().expired, 1);
  ASSERT_TRUE(cluster_->SetPodReady("web-0", true).ok());
  ASSERT_TRUE(WaitForTrafficOnly({"web-0", "web-1", "web-2"}));
  ExpectNoFailures();
}

}  // namespace
}  // namespace kubegrpc::testing
