// Deterministic mode: scenarios on virtual time give the same trace every run;
// exact assertions live here.

#include "testing/simulation.h"

#include <iostream>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"

namespace kubegrpc::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

Scenario Make(int replicas, std::vector<ScenarioStep> steps, absl::Duration duration) {
  Scenario s;
  s.deployment.replicas = replicas;
  s.steps = std::move(steps);
  s.duration = duration;
  return s;
}

std::vector<std::string> Trace(const Scenario& s, uint64_t seed = 1) {
  absl::StatusOr<SimulationResult> r = Simulate(s, {.seed = seed});
  EXPECT_THAT(r, IsOk());
  if (!r.ok()) return {};
  std::cout << absl::StrJoin(r->trace, "\n") << "\n";
  return r->trace;
}

TEST(SimulationTest, SameScenarioSameSeedSameTrace) {
  Scenario s = Make(3,
                    {{absl::Seconds(1), "scale web 5"},
                     {absl::Seconds(2), "crash web-1 300ms"},
                     {absl::Seconds(3), "outage 2s"},
                     {absl::Seconds(4), "delete web-0"},
                     {absl::Seconds(6), "rollout web"}},
                    absl::Seconds(9));
  s.deployment.readiness_delay = absl::Milliseconds(100);
  absl::StatusOr<SimulationResult> a = Simulate(s, {.seed = 42});
  absl::StatusOr<SimulationResult> b = Simulate(s, {.seed = 42});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->trace, b->trace);
  EXPECT_EQ(a->load.by_pod, b->load.by_pod);
  EXPECT_EQ(a->load.timeline, b->load.timeline);
  EXPECT_GT(a->trace.size(), 8u);
}

TEST(SimulationTest, ScaleUpIsPickedOnTheNextWatchPoll) {
  EXPECT_THAT(Trace(Make(3, {{absl::Seconds(1), "scale web 6"}}, absl::Seconds(2))),
              ElementsAre("t=0.050s picked web-0,web-1,web-2", "t=1.000s step scale web 6",
                          "t=1.050s picked web-0,web-1,web-2,web-3,web-4,web-5"));
}

TEST(SimulationTest, RoundRobinOverTheTimelineIsExact) {
  absl::StatusOr<SimulationResult> r =
      Simulate(Make(3, {}, absl::Seconds(1)), {.seed = 3, .picks_per_tick = 30});
  ASSERT_THAT(r, IsOk());
  // Every tick: 30 picks over 3 ready pods, 10 each.
  for (const auto& tick : r->load.timeline) {
    if (tick.empty()) continue;
    ExpectRoundRobin(tick, (std::vector<std::string>{"web-0", "web-1", "web-2"}), 0);
  }
  EXPECT_EQ(r->load.failed, 0);
}

TEST(SimulationTest, DeletedPodLeavesBeforeItsServerStops) {
  absl::StatusOr<SimulationResult> r =
      Simulate(Make(3, {{absl::Seconds(1), "delete web-1"}}, absl::Seconds(2)), {.seed = 1});
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->trace, Contains("t=1.050s picked web-0,web-2"));
  // No pick of web-1 after the tick that saw it terminating, and no failure:
  // it left the rotation before its server stopped (200 ms later).
  EXPECT_EQ(r->load.LastIntervalWith("web-1"), 20);
  EXPECT_EQ(r->load.failed, 0);
}

TEST(SimulationTest, CrashedPodLeavesAtOnceAndReturnsAfterRestart) {
  std::vector<std::string> trace =
      Trace(Make(3, {{absl::Seconds(1), "crash web-1 500ms"}}, absl::Seconds(2)));
  // The channel fails at once (the same tick, before the API says anything); the
  // restart is picked up on the poll after it.
  EXPECT_THAT(trace, Contains("t=1.000s picked web-0,web-2"));
  EXPECT_THAT(trace, Contains("t=1.550s picked web-0,web-1,web-2"));
}

TEST(SimulationTest, AnOutageKeepsThePoolAndLaterChangesArrive) {
  absl::StatusOr<SimulationResult> r =
      Simulate(Make(3, {{absl::Seconds(1), "outage 3s"}, {absl::Seconds(2), "scale web 4"}},
                    absl::Seconds(8)),
               {.seed = 9});
  ASSERT_THAT(r, IsOk());
  // During the outage the three pods keep every pick; the fourth arrives after
  // it, once discovery's backoff (1 s, 1.6 s, 2.56 s ... virtual) comes round.
  EXPECT_EQ(r->load.failed, 0);
  const int outage_end = 4000 / 50;
  EXPECT_GE(r->load.FirstIntervalWith("web-3"), outage_end);
  EXPECT_GT(r->load.by_pod["web-3"], 0);
}

TEST(SimulationTest, CompactionForcesARelistThatConverges) {
  std::vector<std::string> trace = Trace(Make(3,
                                              {{absl::Seconds(1), "outage 500ms"},
                                               {absl::Milliseconds(1200), "ready web-0 false"},
                                               {absl::Milliseconds(1300), "compact"}},
                                              absl::Seconds(4)));
  EXPECT_THAT(trace, Contains(::testing::HasSubstr("picked web-1,web-2")));
}

TEST(SimulationTest, MoreThanAHundredPodsInSeveralSlices) {
  absl::StatusOr<SimulationResult> r =
      Simulate(Make(3, {{absl::Seconds(1), "scale web 150"}, {absl::Seconds(2), "delete web-120"}},
                    absl::Seconds(3)),
               {.seed = 5, .picks_per_tick = 149});
  ASSERT_THAT(r, IsOk());
  // All 150 (in two slices) are picked one poll after the scale; then 149.
  EXPECT_THAT(r->trace, Contains(::testing::StartsWith("t=1.050s picked web-0,web-1,")));
  const auto& last = r->load.timeline.back();
  EXPECT_EQ(last.size(), 149u);
  EXPECT_EQ(last.count("web-120"), 0u);
  for (const auto& [pod, n] : last) EXPECT_EQ(n, 1) << pod;  // exact round-robin
  EXPECT_EQ(r->load.failed, 0);
}

// A hung pod (connections up, no answers) is seen only by health checks or by
// passive ejection until the kubelet's readiness probe gives up on it (30 s).
TEST(SimulationTest, HealthChecksTakeAHungPodOutBeforeTheReadinessProbeDoes) {
  Scenario s = Make(3, {{absl::Milliseconds(1500), "hang web-1 20s"}}, absl::Seconds(25));
  s.balancer.pool.outlier_detection.enabled = false;  // health checks alone
  absl::StatusOr<SimulationResult> without = Simulate(s, {});
  ASSERT_THAT(without, IsOk());
  s.balancer.pool.health.mode = HealthCheckOptions::Mode::kGrpcHealth;
  s.balancer.pool.health.interval = absl::Seconds(1);
  absl::StatusOr<SimulationResult> with = Simulate(s, {});
  ASSERT_THAT(with, IsOk());
  // Without checks a third of the picks for 20 s go to the hung pod.
  EXPECT_GT(without->load.failures["DEADLINE_EXCEEDED"], 20 * 20 * 30 / 3 * 8 / 10);
  // With 1 s checks it is out within about a second, and back after the hang.
  EXPECT_GT(with->load.failures["DEADLINE_EXCEEDED"], 0);
  EXPECT_LT(with->load.failures["DEADLINE_EXCEEDED"], 2 * 20 * 30 / 3 + 30);
  EXPECT_THAT(with->trace, Contains(::testing::HasSubstr("picked web-0,web-2")));
  EXPECT_EQ(with->calls_to_gone_pods, 0);  // the API never said it was not ready
}

// The default pool learns from the calls: the hung pod's fifth failed call in
// a row ejects it for 30 s; then it is back (its hang is over by then).
TEST(SimulationTest, PassiveEjectionTakesAHungPodOutAfterItsFailedCalls) {
  Scenario s = Make(3, {{absl::Milliseconds(1500), "hang web-1 20s"}}, absl::Seconds(40));
  absl::StatusOr<SimulationResult> r = Simulate(s, {});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->load.failures["DEADLINE_EXCEEDED"], 5);
  EXPECT_EQ(r->load.failed, 5);
  EXPECT_THAT(r->trace, Contains(::testing::HasSubstr("picked web-0,web-2")));
  // Back after its ejection time, with the hang over: calls reach it again.
  const int back = r->load.FirstIntervalWith("web-1", /*from=*/1500 / 50 + 1);
  EXPECT_GE(back, 31500 / 50);
  EXPECT_LE(back, 32000 / 50);
}

TEST(SimulationTest, ZoneAwarePicksStayInTheZoneAndSpillOverWhenItIsDown) {
  // Six pods over three zones (web-<n> in zone-{a,b,c}[n % 3]); the Service
  // asks for same-zone traffic and this client is in zone-a: web-0 and web-3.
  Scenario s = Make(6, {{absl::Seconds(2), "crash web-0 4s"}, {absl::Seconds(3), "crash web-3 2s"}},
                    absl::Seconds(8));
  s.deployment.traffic_distribution = "PreferSameZone";
  s.balancer.pool.zone = "zone-a";
  const std::vector<std::string> trace = Trace(s);
  EXPECT_THAT(trace, Contains(::testing::HasSubstr("picked web-0,web-3")));
  // web-0 down: zone-a's one other pod is all of what the API lists there.
  EXPECT_THAT(trace, Contains(::testing::HasSubstr("picked web-3")));
  // Both down: every zone.
  EXPECT_THAT(trace, Contains(::testing::HasSubstr("picked web-1,web-2,web-4,web-5")));
  absl::StatusOr<SimulationResult> r = Simulate(s, {});
  ASSERT_THAT(r, IsOk());
  // Before the crashes (ticks 0-39), only zone-a's pods; while both are down
  // (3 s - 5 s, ticks 61-99), only the others; at the end, zone-a again.
  const auto& timeline = r->load.timeline;
  ASSERT_GE(timeline.size(), 150u);
  for (size_t tick = 0; tick < timeline.size(); ++tick) {
    for (const auto& [pod, calls] : timeline[tick]) {
      if (calls == 0) continue;
      const bool local = pod == "web-0" || pod == "web-3";
      if (tick < 40 || tick >= 150) {
        EXPECT_TRUE(local) << "tick " << tick << " " << pod;
      }
      if (tick > 61 && tick < 99) {
        EXPECT_FALSE(local) << "tick " << tick << " " << pod;
      }
    }
  }
  // Without a client zone, the same Service spreads over every pod.
  s.balancer.pool.zone = "";
  absl::StatusOr<SimulationResult> spread = Simulate(s, {});
  ASSERT_THAT(spread, IsOk());
  for (const char* pod : {"web-1", "web-2", "web-4", "web-5"}) {
    EXPECT_GT(spread->load.by_pod[pod], r->load.by_pod[pod]) << pod;
  }
}

TEST(SimulationTest, CountsApiRequestsNewPodFirstUseAndCallsToGonePods) {
  Scenario watch =
      Make(3, {{absl::Seconds(10), "scale web 4"}, {absl::Seconds(20), "delete web-0"}},
           absl::Seconds(120));
  absl::StatusOr<SimulationResult> w = Simulate(watch, {});
  ASSERT_THAT(w, IsOk());
  // One get, one list and one watch stream for two minutes (the default
  // watch timeout is five).
  EXPECT_EQ(w->api_gets, 1);
  EXPECT_EQ(w->api_lists, 1);
  EXPECT_EQ(w->api_watches, 1);
  ASSERT_EQ(w->new_pod_first_use.size(), 1u);
  EXPECT_LE(w->new_pod_first_use[0], absl::Milliseconds(100));  // the next tick or two
  // Gone from the pool on the next watch poll: at most one tick of picks.
  EXPECT_LE(w->calls_to_gone_pods, 30);

  // The original's design: a list every 60 s. The new pod waits for the next
  // list; the deleted pod keeps being picked until its server stops.
  Scenario poll = watch;
  poll.balancer.discovery.watch = false;
  poll.balancer.discovery.resync_interval = absl::Seconds(60);
  absl::StatusOr<SimulationResult> p = Simulate(poll, {});
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->api_watches, 0);
  EXPECT_GE(p->api_lists, 2);
  ASSERT_EQ(p->new_pod_first_use.size(), 1u);
  EXPECT_GE(p->new_pod_first_use[0], absl::Seconds(30));  // listed at t=60 s, ready at t=10 s
  // Picked all through its 200 ms termination (4 ticks of 30 picks over 3 pods).
  EXPECT_GE(p->calls_to_gone_pods, 35);
}

}  // namespace
}  // namespace kubegrpc::testing
