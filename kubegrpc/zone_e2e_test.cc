// Zone-aware routing end to end: real gRPC pods (FakePod) spread over three
// zones behind fakek8s over HTTPS with RBAC, a Service with
// trafficDistribution: PreferSameZone (the controller writes the hints), and
// the real Balancer finding its zone from NODE_NAME's Node, as in a pod whose
// manifest passes spec.nodeName down.

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/balancer.h"
#include "testing/fake_cluster.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::Echo;
using ::kubegrpc::testing::EchoRequest;
using ::kubegrpc::testing::EchoResponse;
using ::kubegrpc::testing::FakeCluster;
using ::testing::HasSubstr;

constexpr char kUser[] = "system:serviceaccount:demo:client";

class ZoneE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("KUBEGRPC_ZONE");
    unsetenv("NODE_NAME");
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    // Six pods: web-<n> runs in zone-{a,b,c}[n % 3].
    testing::DeploymentSpec spec;
    spec.replicas = 6;
    spec.traffic_distribution = "PreferSameZone";
    ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  }
  void TearDown() override {
    // Destroying the Balancer joins its event thread, which writes events_:
    // before the fixture's members go.
    balancer_.reset();
    unsetenv("KUBEGRPC_ZONE");
    unsetenv("NODE_NAME");
  }
  // A Balancer whose ServiceAccount may do what discovery needs, plus `get`
  // on nodes if `nodes`.
  void Start(bool nodes) {
    std::vector<fakek8s::RbacRule> rules = {
        {{"get"}, {"services"}, {"demo"}},
        {{"list", "watch"}, {"endpointslices"}, {"demo"}},
    };
    if (nodes) rules.push_back({{"get"}, {"nodes"}});
    cluster_->api().AddToken("zone-token", kUser);
    cluster_->api().SetRules(kUser, rules);
    ClusterConfig config = cluster_->client_config();
    config.token = "zone-token";
    BalancerOptions options;
    options.on_event = [this](const BalancerEvent& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e);
    };
    auto balancer = Balancer::Create(config, std::move(options));
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
    auto handle = balancer_->Connect<Echo>("web.demo:80");
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = *std::move(handle);
  }
  // The pods that `n` calls on held stubs reach.
  std::set<std::string> Answered(int n) {
    std::set<std::string> pods;
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<std::shared_ptr<Echo::Stub>> stub = handle_.Next();
      if (!stub.ok()) continue;
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      EchoRequest request;
      EchoResponse response;
      if ((*stub)->Echo(&context, request, &response).ok()) pods.insert(response.pod_name());
    }
    return pods;
  }
  ZoneRouting Zone() {
    for (const ServiceSnapshot& s : balancer_->Snapshot()) return s.zone;
    return {};
  }
  // Picked and READY: while no channel is READY the pool also picks those
  // still connecting, and drops them again once one is READY.
  int Picked() {
    int n = 0;
    for (const ServiceSnapshot& s : balancer_->Snapshot()) {
      for (const EndpointSnapshot& e : s.endpoints) {
        n += e.picked && e.state == ChannelState::kReady ? 1 : 0;
      }
    }
    return n;
  }
  std::vector<std::string> EventDetails(BalancerEvent::Kind kind) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const BalancerEvent& e : events_) {
      if (e.kind == kind) out.push_back(e.detail);
    }
    return out;
  }
  // Generous: a loaded machine is slow, never wrong.
  static bool WaitFor(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }

  std::unique_ptr<FakeCluster> cluster_;
  std::unique_ptr<Balancer> balancer_;
  StubHandle<Echo> handle_;
  absl::Mutex mu_;
  std::vector<BalancerEvent> events_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ZoneE2ETest, SameZoneFromTheNodeAndSpillOverWhenTheZoneIsDown) {
  setenv("NODE_NAME", "fake-node-zone-b", 1);
  Start(/*nodes=*/true);
  ASSERT_TRUE(WaitFor([&] { return Zone().active && Picked() == 2; })) << Zone().reason;
  EXPECT_EQ(Zone().client_zone, "zone-b");
  // Events are delivered on the Balancer's event thread, after the state changed.
  ASSERT_TRUE(WaitFor([&] { return !EventDetails(BalancerEvent::Kind::kClientZone).empty(); }));
  EXPECT_THAT(EventDetails(BalancerEvent::Kind::kClientZone),
              ::testing::ElementsAre(HasSubstr("zone zone-b (from Node fake-node-zone-b")));
  EXPECT_EQ(Answered(60), (std::set<std::string>{"web-1", "web-4"}));

  // One of zone-b's two pods dies (its process: the API has not noticed): half
  // of the zone is still READY, so calls stay in it.
  cluster_->pod("web-1")->Crash();
  ASSERT_TRUE(WaitFor([&] { return Picked() == 1; }));
  EXPECT_TRUE(Zone().active);
  EXPECT_EQ(Answered(30), (std::set<std::string>{"web-4"}));
  // Both: the calls spill over to the other zones.
  cluster_->pod("web-4")->Crash();
  ASSERT_TRUE(WaitFor([&] { return !Zone().active && Picked() == 4; })) << Zone().reason;
  EXPECT_THAT(Zone().reason, HasSubstr("spilling over to every zone: 0 of the 2"));
  EXPECT_EQ(Answered(80), (std::set<std::string>{"web-0", "web-2", "web-3", "web-5"}));
  // One is back: zone-b again.
  ASSERT_TRUE(cluster_->pod("web-1")->Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return Zone().active && Picked() == 1; })) << Zone().reason;
  EXPECT_EQ(Answered(30), (std::set<std::string>{"web-1"}));
  // The switch's event may trail the state it reports.
  WaitFor([&] {
    std::vector<std::string> s = EventDetails(BalancerEvent::Kind::kZoneRouting);
    return s.size() >= 3 && s.back().find("zone zone-b") != std::string::npos;
  });
  std::vector<std::string> switches = EventDetails(BalancerEvent::Kind::kZoneRouting);
  ASSERT_GE(switches.size(), 3u);
  EXPECT_THAT(switches[switches.size() - 2], HasSubstr("spilling over"));
  EXPECT_THAT(switches.back(), HasSubstr("zone zone-b: 1 of its 2"));
}

TEST_F(ZoneE2ETest, WithoutRbacForNodesThereIsNoZoneAndAClearEvent) {
  setenv("NODE_NAME", "fake-node-zone-b", 1);
  Start(/*nodes=*/false);
  ASSERT_TRUE(WaitFor([&] { return !EventDetails(BalancerEvent::Kind::kClientZone).empty(); }));
  const std::string detail = EventDetails(BalancerEvent::Kind::kClientZone)[0];
  EXPECT_THAT(detail, HasSubstr("unknown"));
  EXPECT_THAT(detail, HasSubstr("fake-node-zone-b"));
  EXPECT_THAT(detail, HasSubstr("forbidden"));
  EXPECT_THAT(detail, HasSubstr("picks ignore zones"));
  ASSERT_TRUE(WaitFor([&] { return Picked() == 6; }));
  EXPECT_FALSE(Zone().active);
  EXPECT_THAT(Zone().reason, HasSubstr("no client zone"));
  EXPECT_EQ(Answered(120).size(), 6u);
}

TEST_F(ZoneE2ETest, TheEnvironmentVariableNeedsNoApiCall) {
  setenv("KUBEGRPC_ZONE", "zone-c", 1);
  setenv("NODE_NAME", "fake-node-zone-b", 1);  // not consulted
  Start(/*nodes=*/false);
  ASSERT_TRUE(WaitFor([&] { return Zone().active && Picked() == 2; })) << Zone().reason;
  EXPECT_EQ(Answered(60), (std::set<std::string>{"web-2", "web-5"}));
  EXPECT_THAT(EventDetails(BalancerEvent::Kind::kClientZone),
              ::testing::ElementsAre("zone zone-c (from KUBEGRPC_ZONE)"));
}

}  // namespace
}  // namespace kubegrpc
