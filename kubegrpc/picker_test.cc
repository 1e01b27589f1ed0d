// The picker and its rules: which endpoints a picker holds, exact round-robin,
// avoidance, the empty reason, call counting and the per-endpoint cache.

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

}  // namespace
}  // namespace kubegrpc
