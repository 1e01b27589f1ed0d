#include "kubegrpc/endpoint_set.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc {
namespace {

Endpoint E(std::string ip, bool ready = true, bool serving = true, bool terminating = false) {
  Endpoint e;
  e.address = std::move(ip);
  e.port = 8080;
  e.ready = ready;
  e.serving = serving;
  e.terminating = terminating;
  return e;
}

std::vector<std::string> Keys(const std::vector<Endpoint>& v) {
  std::vector<std::string> out;
  for (const Endpoint& e : v) out.push_back(e.HostPort());
  return out;
}

TEST(EndpointSetTest, SortsDedupesAndPrefersTheBestDuplicate) {
  auto set = EndpointSet::Create(
      {E("10.0.0.2"), E("10.0.0.1", false, false), E("10.0.0.1"), E("fd00::1")});
  EXPECT_THAT(Keys(set->all()),
              ::testing::ElementsAre("10.0.0.1:8080", "10.0.0.2:8080", "[fd00::1]:8080"));
  EXPECT_TRUE(set->all()[0].ready);
}

TEST(EndpointSetTest, UsableIsReadyOrElseServingTerminating) {
  auto set = EndpointSet::Create(
      {E("10.0.0.1"), E("10.0.0.2", false, true, true), E("10.0.0.3", false, false, false)});
  EXPECT_THAT(Keys(set->usable()), ::testing::ElementsAre("10.0.0.1:8080"));
  set = EndpointSet::Create({E("10.0.0.2", false, true, true), E("10.0.0.3", false, false, true),
                             E("10.0.0.4", false, false, false)});
  EXPECT_THAT(Keys(set->usable()), ::testing::ElementsAre("10.0.0.2:8080"));
}

TEST(EndpointSetTest, DiffOfUsableEndpoints) {
  auto before = EndpointSet::Create({E("10.0.0.1"), E("10.0.0.2"), E("10.0.0.3")});
  Endpoint moved = E("10.0.0.3");
  moved.zone = "b";
  auto after = EndpointSet::Create({E("10.0.0.2"), moved, E("10.0.0.4"), E("10.0.0.5", false)});
  EndpointDelta d = Diff(before.get(), *after);
  EXPECT_THAT(Keys(d.added), ::testing::ElementsAre("10.0.0.4:8080"));
  EXPECT_THAT(Keys(d.removed), ::testing::ElementsAre("10.0.0.1:8080"));
  EXPECT_THAT(Keys(d.changed), ::testing::ElementsAre("10.0.0.3:8080"));
  EXPECT_EQ(Diff(nullptr, *before).added.size(), 3u);
  EXPECT_TRUE(Diff(before.get(), *before).empty());
}

}  // namespace
}  // namespace kubegrpc
