#include "kubegrpc/endpoint_set.h"

#include <algorithm>
#include <map>
#include <random>

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

std::string Ip(int i) {
  return "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
         std::to_string(i % 256);
}

template <typename List>
std::vector<std::string> Keys(const List& v) {
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

TEST(EndpointListTest, IteratesIndexesAndFindsAcrossChunks) {
  std::vector<Endpoint> sorted;
  for (int i = 0; i < 1000; ++i) {
    Endpoint e = E(Ip(i));
    sorted.push_back(e);
  }
  std::sort(sorted.begin(), sorted.end(), KeyLess);
  EndpointList list = EndpointList::FromSorted(sorted);
  EXPECT_EQ(list.size(), 1000u);
  EXPECT_GT(list.chunk_count(), 10u);
  EXPECT_EQ(list.ToVector(), sorted);
  for (size_t i = 0; i < sorted.size(); i += 37) {
    EXPECT_EQ(list[i], sorted[i]);
    const Endpoint* found = list.Find(sorted[i].address, 8080);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(*found, sorted[i]);
  }
  EXPECT_EQ(list.Find(sorted[5].address, 8081), nullptr);
  EXPECT_EQ(list.Find("zzz", 8080), nullptr);
  EXPECT_TRUE(EndpointList().empty());
  EXPECT_EQ(EndpointList().begin(), EndpointList().end());
}

// With() against Create() from scratch: random changes (adds, removals,
// condition flips, moves between ready and terminating-only) on sets of many
// chunks; the delta must equal the full comparison's.
TEST(EndpointSetTest, WithMatchesCreateAndDiff) {
  std::mt19937 rng(42);
  for (int round = 0; round < 40; ++round) {
    std::map<std::string, Endpoint> truth;  // by address
    const int universe = round % 2 == 0 ? 50 : 700;
    auto random_endpoint = [&] {
      Endpoint e = E(Ip(static_cast<int>(rng() % universe)));
      // Mostly ready; some rounds none ready (the terminating fallback).
      const int k = static_cast<int>(rng() % 10);
      e.ready = round % 5 == 4 ? false : k < 7;
      e.serving = e.ready || k % 2 == 0;
      e.terminating = !e.ready && k % 3 == 0;
      e.zone = (rng() % 2) ? "a" : "b";
      return e;
    };
    auto snapshot = [&] {
      std::vector<Endpoint> v;
      for (const auto& [k, e] : truth) v.push_back(e);
      return EndpointSet::Create(v);
    };
    std::shared_ptr<const EndpointSet> set = snapshot();
    for (int step = 0; step < 60; ++step) {
      std::vector<EndpointChange> changes;
      std::map<std::string, bool> used;
      const int n = 1 + static_cast<int>(rng() % (step % 7 == 0 ? 200 : 3));
      for (int i = 0; i < n; ++i) {
        Endpoint e = random_endpoint();
        if (used[e.address]) continue;
        used[e.address] = true;
        EndpointChange c;
        c.address = e.address;
        c.port = e.port;
        if (rng() % 3 == 0) {
          truth.erase(e.address);
        } else {
          truth[e.address] = e;
          c.now = e;
        }
        changes.push_back(std::move(c));
      }
      std::shared_ptr<const EndpointSet> want = snapshot();
      EndpointSet::Next next = set->With(changes);
      if (next.set == nullptr) {
        ASSERT_EQ(*set, *want) << "round " << round << " step " << step;
        continue;
      }
      ASSERT_EQ(next.set->all().ToVector(), want->all().ToVector()) << round << "/" << step;
      ASSERT_EQ(next.set->usable().ToVector(), want->usable().ToVector()) << round << "/" << step;
      ASSERT_EQ(next.set->ready_count(), want->ready_count());
      EndpointDelta full = Diff(set.get(), *want);
      auto sorted_keys = [](const std::vector<Endpoint>& v) {
        std::vector<std::string> k = Keys(v);
        std::sort(k.begin(), k.end());
        return k;
      };
      EXPECT_EQ(sorted_keys(next.delta.added), sorted_keys(full.added));
      EXPECT_EQ(sorted_keys(next.delta.removed), sorted_keys(full.removed));
      EXPECT_EQ(sorted_keys(next.delta.changed), sorted_keys(full.changed));
      set = next.set;
    }
  }
}

TEST(EndpointSetTest, WithSharesUntouchedChunks) {
  std::vector<Endpoint> v;
  for (int i = 0; i < 5000; ++i) v.push_back(E(Ip(i)));
  auto set = EndpointSet::Create(v);
  EndpointChange c;
  c.now = set->all()[2500];
  c.now->ready = false;
  EndpointSet::Next next = set->With({c});
  ASSERT_NE(next.set, nullptr);
  EXPECT_EQ(next.set->usable().size(), 4999u);
  ASSERT_EQ(next.delta.removed.size(), 1u);
  EXPECT_EQ(next.delta.removed[0].address, c.now->address);
  // Every chunk but the one changed is the same storage.
  size_t shared = 0;
  for (size_t i = 0; i < set->all().size(); i += EndpointList::kChunk / 2) {
    shared += &set->all()[i] == &next.set->all()[i] ? 1 : 0;
  }
  EXPECT_GE(shared, set->all().size() / (EndpointList::kChunk / 2) - 2);
  // A change to what is there already is none.
  EXPECT_EQ(next.set->With({c}).set, nullptr);
}

}  // namespace
}  // namespace kubegrpc
