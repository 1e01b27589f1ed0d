// The picker and its rules: which endpoints a picker holds, exact round-robin,
// least-request against round-robin on virtual time, avoidance, the empty
// reason, call counting and the per-endpoint cache.

#include "kubegrpc/picker.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc {
namespace {

using ::testing::UnorderedElementsAre;

std::shared_ptr<PoolEndpoint> Endpoint(const std::string& host_port) {
  return std::make_shared<PoolEndpoint>(host_port, "pod-" + host_port, nullptr);
}

TEST(PickTierTest, FollowsRoundRobinsOrder) {
  StateCounts counts;
  counts.Add(ChannelState::kConnecting, 1);
  counts.Add(ChannelState::kTransientFailure, 1);
  EXPECT_EQ(ChoosePickTier(counts), PickTier::kNotFailing);
  counts.Add(ChannelState::kReady, 1);
  EXPECT_EQ(ChoosePickTier(counts), PickTier::kReady);
  counts.Add(ChannelState::kReady, -1);
  counts.Add(ChannelState::kConnecting, -1);
  EXPECT_EQ(ChoosePickTier(counts), PickTier::kAll);  // all failing: all of them
  EXPECT_EQ(counts.total(), 1);

  EXPECT_TRUE(InPickTier(PickTier::kReady, ChannelState::kReady));
  EXPECT_FALSE(InPickTier(PickTier::kReady, ChannelState::kConnecting));
  EXPECT_TRUE(InPickTier(PickTier::kNotFailing, ChannelState::kIdle));
  EXPECT_FALSE(InPickTier(PickTier::kNotFailing, ChannelState::kTransientFailure));
  EXPECT_TRUE(InPickTier(PickTier::kAll, ChannelState::kTransientFailure));
}

TEST(PickerTest, RoundRobinIsExactFromItsStart) {
  Picker picker({Endpoint("a:1"), Endpoint("b:1"), Endpoint("c:1")}, /*start=*/1, absl::OkStatus());
  std::string order;
  for (int i = 0; i < 6; ++i) order += picker.Pick()->host_port().substr(0, 1);
  EXPECT_EQ(order, "bcabca");
  EXPECT_EQ(picker.endpoints()[0]->calls().picks(), 2);
}

TEST(PickerTest, AvoidsTriedEndpointsWhileAnotherIsLeft) {
  auto a = Endpoint("a:1"), b = Endpoint("b:1");
  Picker picker({a, b}, 0, absl::OkStatus());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(picker.PickAvoiding({a.get()}), b.get());
  // Everything tried: it still picks (the caller decides to stop).
  EXPECT_NE(picker.PickAvoiding({a.get(), b.get()}), nullptr);
}

TEST(PickerTest, AnEmptyPickerCarriesItsReason) {
  Picker picker({}, 0, absl::UnavailableError("kube-grpc: no endpoint: why"));
  EXPECT_EQ(picker.Pick(), nullptr);
  EXPECT_EQ(picker.PickAvoiding({}), nullptr);
  EXPECT_EQ(picker.empty_status().message(), "kube-grpc: no endpoint: why");
}

TEST(CallCountersTest, ScopedCallCountsInFlightAndFailures) {
  auto e = Endpoint("a:1");
  {
    ScopedCall call(*e);
    EXPECT_EQ(e->calls().in_flight(), 1);
  }
  {
    ScopedCall call(*e);
    call.set_ok(true);
  }
  EXPECT_EQ(e->calls().in_flight(), 0);
  EXPECT_EQ(e->calls().failures(), 1);  // the first one never said it was ok
}

struct Thing {
  int id;
};

TEST(PoolEndpointTest, CachedMakesOncePerType) {
  auto e = Endpoint("a:1");
  int made = 0;
  auto make = [&] { return std::make_unique<Thing>(Thing{++made}); };
  Thing* first = e->Cached<Thing>(make);
  Thing* second = e->Cached<Thing>(make);
  EXPECT_EQ(first, second);
  EXPECT_EQ(made, 1);
  int* seven = e->Cached<int>([] { return std::make_unique<int>(7); });
  EXPECT_EQ(*seven, 7);
  EXPECT_EQ(e->Cached<int>([] { return std::make_unique<int>(8); }),
            seven);  // another type, its own slot
}

// A closed loop on virtual time: `clients` callers, each making one call at a
// time, picking, holding the call for its endpoint's latency, then picking
// again. Returns the calls each endpoint got in `duration` time units.
std::map<std::string, int64_t> ClosedLoop(PickPolicy policy, const std::vector<int>& latency,
                                          int clients, int64_t duration) {
  std::vector<std::shared_ptr<PoolEndpoint>> endpoints;
  for (size_t i = 0; i < latency.size(); ++i) endpoints.push_back(Endpoint(std::to_string(i)));
  Picker picker(endpoints, /*start=*/0, absl::OkStatus(), policy);
  // (finish time, client, endpoint): the next call to finish comes first.
  std::multimap<int64_t, PoolEndpoint*> running;
  auto start = [&](int64_t now) {
    PoolEndpoint* e = picker.Pick();
    e->calls().Started();
    running.emplace(now + latency[std::stoi(e->host_port())], e);
  };
  for (int c = 0; c < clients; ++c) start(0);
  std::map<std::string, int64_t> calls;
  while (!running.empty() && running.begin()->first < duration) {
    auto [now, e] = *running.begin();
    running.erase(running.begin());
    e->calls().Finished(grpc::StatusCode::OK, absl::ZeroDuration());
    ++calls[e->host_port()];
    start(now);
  }
  return calls;
}

int64_t Total(const std::map<std::string, int64_t>& calls) {
  int64_t n = 0;
  for (const auto& [k, v] : calls) n += v;
  return n;
}

TEST(PickerTest, LeastRequestSendsASlowPodFarFewerCalls) {
  // Pod 2 takes 10x as long.
  const std::vector<int> latency = {10, 10, 100};
  std::map<std::string, int64_t> rr = ClosedLoop(PickPolicy::kRoundRobin, latency, 8, 100000);
  std::map<std::string, int64_t> lr = ClosedLoop(PickPolicy::kLeastRequest, latency, 8, 100000);
  // Round-robin gives each pod a third of the calls, so the slow one holds
  // most of the callers; least-request sends it few, and finishes far more.
  EXPECT_NEAR(static_cast<double>(rr["2"]) / Total(rr), 1.0 / 3, 0.01);
  EXPECT_LT(static_cast<double>(lr["2"]) / Total(lr), 0.10);
  EXPECT_GT(Total(lr), 2 * Total(rr));
}

TEST(PickerTest, LeastRequestSpreadsEqualPodsEvenly) {
  const std::vector<int> latency = {10, 10, 10, 10};
  std::map<std::string, int64_t> rr = ClosedLoop(PickPolicy::kRoundRobin, latency, 8, 100000);
  std::map<std::string, int64_t> lr = ClosedLoop(PickPolicy::kLeastRequest, latency, 8, 100000);
  EXPECT_EQ(Total(lr), Total(rr));  // the same throughput
  for (const auto& [pod, n] : lr) {
    EXPECT_NEAR(static_cast<double>(n) / Total(lr), 0.25, 0.05) << pod;
  }
}

TEST(PickerTest, LeastRequestPicksTwoDistinctEndpoints) {
  // With two endpoints, one busy: every pick compares both, so all go to the idle one.
  auto a = Endpoint("a:1"), b = Endpoint("b:1");
  a->calls().Started();
  Picker picker({a, b}, 0, absl::OkStatus(), PickPolicy::kLeastRequest);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(picker.Pick(), b.get());
  Picker one({a}, 0, absl::OkStatus(), PickPolicy::kLeastRequest);
  EXPECT_EQ(one.Pick(), a.get());
}

}  // namespace
}  // namespace kubegrpc
