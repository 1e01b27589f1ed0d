// ChannelPool's zone-aware routing on virtual time, with fake subchannels: the
// rule (PoolOptions::zone): picks keep to the endpoints hinted for the
// client's zone while at least one, and at least half, of them are READY and
// in rotation; otherwise they spill over to every zone.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/channel_pool.h"
#include "testing/fake_clock.h"
#include "testing/fake_subchannel.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::FakeClock;
using ::kubegrpc::testing::FakeSubchannelFactory;
using ::testing::HasSubstr;

const char* const kZones[] = {"zone-a", "zone-b", "zone-c"};

// Pod i is in kZones[i % 3]; with `hints`, hinted for its own zone (what the
// API's controller writes for trafficDistribution: PreferSameZone).
std::vector<Endpoint> Pods(int n, bool hints = true) {
  std::vector<Endpoint> endpoints;
  for (int i = 0; i < n; ++i) {
    Endpoint e;
    e.address = absl::StrCat("10.0.0.", i + 1);
    e.port = 8080;
    e.pod_name = absl::StrCat("pod-", i);
    e.zone = kZones[i % 3];
    if (hints) e.for_zones = {e.zone};
    endpoints.push_back(e);
  }
  return endpoints;
}

std::string Key(int i) { return absl::StrCat("10.0.0.", i + 1, ":8080"); }

class ZonePoolTest : public ::testing::Test {
 protected:
  void Make(const std::string& zone, std::vector<Endpoint> pods) {
    PoolOptions options;
    options.clock = &clock_;
    options.start_worker = false;
    options.zone = zone;
    pool_ = std::make_unique<ChannelPool>("demo/web:80", &factory_, options,
                                          [this](BalancerEvent e) { events_.push_back(e); });
    pool_->Apply(EndpointSet::Create(pods));
    for (size_t i = 0; i < pods.size(); ++i) {
      factory_.SetState(Key(static_cast<int>(i)), ChannelState::kReady);
    }
  }
  // The pods `n` picks reach.
  std::set<std::string> Picked(int n) {
    std::set<std::string> got;
    for (int i = 0; i < n; ++i) {
      pool_->WithPick([&](PoolEndpoint* e, const absl::Status&) {
        if (e != nullptr) got.insert(e->host_port());
      });
    }
    return got;
  }
  std::set<std::string> Keys(std::vector<int> pods) {
    std::set<std::string> out;
    for (int i : pods) out.insert(Key(i));
    return out;
  }

  FakeClock clock_;
  FakeSubchannelFactory factory_;
  std::unique_ptr<ChannelPool> pool_;
  std::vector<BalancerEvent> events_;
};

TEST_F(ZonePoolTest, PicksKeepToTheClientsZone) {
  Make("zone-a", Pods(9));  // zone-a: pods 0, 3, 6
  EXPECT_EQ(Picked(90), Keys({0, 3, 6}));
  ZoneRouting z = pool_->zone_routing();
  EXPECT_TRUE(z.active);
  EXPECT_EQ(z.client_zone, "zone-a");
  EXPECT_EQ(z.local, 3);
  EXPECT_EQ(z.local_ready, 3);
  EXPECT_THAT(z.reason, HasSubstr("zone zone-a: 3 of its 3 endpoints are READY"));
  int local = 0;
  for (const EndpointSnapshot& s : pool_->Snapshot()) {
    EXPECT_EQ(s.picked, s.local) << s.host_port;
    local += s.local ? 1 : 0;
  }
  EXPECT_EQ(local, 3);
}

TEST_F(ZonePoolTest, SpillsOverWhenFewerThanHalfOfTheZoneIsReady) {
  Make("zone-a", Pods(12));  // zone-a: pods 0, 3, 6, 9
  EXPECT_EQ(Picked(120), Keys({0, 3, 6, 9}));
  // Two of four down: half are READY, still enough.
  factory_.SetState(Key(0), ChannelState::kTransientFailure);
  factory_.SetState(Key(3), ChannelState::kTransientFailure);
  EXPECT_EQ(Picked(120), Keys({6, 9}));
  // Three of four down: one of four is not enough; every zone's READY pods.
  factory_.SetState(Key(6), ChannelState::kTransientFailure);
  EXPECT_EQ(Picked(240), Keys({1, 2, 4, 5, 7, 8, 9, 10, 11}));
  ZoneRouting z = pool_->zone_routing();
  EXPECT_FALSE(z.active);
  EXPECT_EQ(z.local_ready, 1);
  EXPECT_THAT(z.reason, HasSubstr("spilling over to every zone: 1 of the 4 endpoints in zone "
                                  "zone-a are READY"));
  // One comes back: two of four, local again.
  factory_.SetState(Key(3), ChannelState::kReady);
  EXPECT_EQ(Picked(120), Keys({3, 9}));
  // Each switch was an event naming the Service and the reason.
  std::vector<std::string> seen;
  for (const BalancerEvent& e : events_) {
    if (e.kind != BalancerEvent::Kind::kZoneRouting) continue;
    EXPECT_EQ(e.service, "demo/web:80");
    seen.push_back(e.detail);
  }
  ASSERT_EQ(seen.size(), 3u);
  // (The first came as the pods connected, once half of zone-a was READY.)
  EXPECT_THAT(seen[0], HasSubstr("zone zone-a: 2 of its 4"));
  EXPECT_THAT(seen[1], HasSubstr("spilling over"));
  EXPECT_THAT(seen[2], HasSubstr("zone zone-a: 2 of its 4"));
}

TEST_F(ZonePoolTest, AZoneWithOneEndpointKeepsItWhileItIsReady) {
  Make("zone-b", Pods(3));  // zone-b: pod 1 alone
  EXPECT_EQ(Picked(30), Keys({1}));
  factory_.SetState(Key(1), ChannelState::kConnecting);
  EXPECT_EQ(Picked(30), Keys({0, 2}));
}

TEST_F(ZonePoolTest, EjectedAndUnhealthyLocalEndpointsDoNotCount) {
  Make("zone-a", Pods(6));  // zone-a: pods 0, 3
  ASSERT_EQ(Picked(60), Keys({0, 3}));
  // Five failed calls in a row eject pod 0; one of two is still half.
  for (int i = 0; i < 5; ++i) {
    std::shared_ptr<PoolEndpoint> e = pool_->WithPick([](PoolEndpoint* p, const absl::Status&) {
      return p->host_port() == Key(0) ? p->shared_from_this() : nullptr;
    });
    if (e == nullptr) {
      --i;
      continue;
    }
    e->calls().Started();
    e->calls().Finished(grpc::StatusCode::UNAVAILABLE, absl::Milliseconds(1));
  }
  EXPECT_EQ(Picked(60), Keys({3}));
  // Pod 3 drains (the API removed it): zone-a has pod 0 only, ejected: spill.
  std::vector<Endpoint> pods = Pods(6);
  pods.erase(pods.begin() + 3);
  pool_->Apply(EndpointSet::Create(pods));
  EXPECT_EQ(Picked(120), Keys({1, 2, 4, 5}));
  EXPECT_EQ(pool_->zone_routing().local, 1);
}

TEST_F(ZonePoolTest, NoPreferenceWithoutHintsOrZone) {
  // No hints (the Service sets no trafficDistribution): every zone.
  Make("zone-a", Pods(6, /*hints=*/false));
  EXPECT_EQ(Picked(60), Keys({0, 1, 2, 3, 4, 5}));
  EXPECT_THAT(pool_->zone_routing().reason, HasSubstr("6 endpoints carry no zone hints"));
  // Partial hints (a rollout of the controller's hints): ignored, as kube-proxy does.
  std::vector<Endpoint> pods = Pods(6);
  pods[5].for_zones.clear();
  pool_->Apply(EndpointSet::Create(pods));
  EXPECT_EQ(Picked(60), Keys({0, 1, 2, 3, 4, 5}));
  EXPECT_FALSE(pool_->zone_routing().active);
  // All hinted: zone-a only.
  pool_->Apply(EndpointSet::Create(Pods(6)));
  EXPECT_EQ(Picked(60), Keys({0, 3}));
  // A zone nobody is hinted for: every zone.
  pool_->SetZone("zone-x");
  EXPECT_EQ(Picked(60), Keys({0, 1, 2, 3, 4, 5}));
  EXPECT_THAT(pool_->zone_routing().reason, HasSubstr("no endpoint is hinted for zone zone-x"));
  // The zone found later (the Balancer reads NODE_NAME's node): applies at once.
  pool_->SetZone("zone-c");
  EXPECT_EQ(Picked(60), Keys({2, 5}));
  // No zone: every zone.
  pool_->SetZone("");
  EXPECT_EQ(Picked(60), Keys({0, 1, 2, 3, 4, 5}));
  EXPECT_THAT(pool_->zone_routing().reason, HasSubstr("no client zone"));
}

TEST_F(ZonePoolTest, HintsThatChangeMoveEndpointsInAndOut) {
  Make("zone-a", Pods(6));
  ASSERT_EQ(Picked(60), Keys({0, 3}));
  // The controller re-hints pod 1 for zone-a too (an endpoint may serve several).
  std::vector<Endpoint> pods = Pods(6);
  pods[1].for_zones = {"zone-b", "zone-a"};
  std::shared_ptr<const EndpointSet> before = EndpointSet::Create(Pods(6));
  pool_->Apply(EndpointSet::Create(pods));
  EXPECT_EQ(Picked(60), Keys({0, 1, 3}));
  pool_->Apply(before);
  EXPECT_EQ(Picked(60), Keys({0, 3}));
}

TEST_F(ZonePoolTest, LeastRequestKeepsToTheZoneToo) {
  PoolOptions options;
  options.clock = &clock_;
  options.start_worker = false;
  options.zone = "zone-c";
  options.policy = PickPolicy::kLeastRequest;
  pool_ = std::make_unique<ChannelPool>("demo/web:80", &factory_, options);
  pool_->Apply(EndpointSet::Create(Pods(9)));
  for (int i = 0; i < 9; ++i) factory_.SetState(Key(i), ChannelState::kReady);
  EXPECT_EQ(Picked(200), Keys({2, 5, 8}));
}

}  // namespace
}  // namespace kubegrpc
