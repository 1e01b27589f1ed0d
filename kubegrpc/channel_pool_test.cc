// ChannelPool with fake subchannels on virtual time: deltas, draining, health,
// state counting, distribution, and an 8-thread picking stress test.

#include "kubegrpc/channel_pool.h"

#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"
#include "testing/fake_subchannel.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::FakeClock;
using ::kubegrpc::testing::FakeSubchannelFactory;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

Endpoint E(const std::string& ip, bool ready = true) {
  Endpoint e;
  e.address = ip;
  e.port = 8080;
  e.pod_name = "pod-" + ip;
  e.ready = ready;
  return e;
}

std::shared_ptr<const EndpointSet> Set(std::vector<Endpoint> endpoints) {
  return EndpointSet::Create(std::move(endpoints));
}

class ChannelPoolTest : public ::testing::Test {
 protected:
  void Make(PoolOptions options = {}) {
    options.clock = &clock_;
    options.start_worker = false;
    options.seed = 7;
    pool_ = std::make_unique<ChannelPool>("demo/web:80", &factory_, options);
  }
  void Ready(std::initializer_list<const char*> ips) {
    for (const char* ip : ips) factory_.SetState(absl::StrCat(ip, ":8080"), ChannelState::kReady);
  }
  // The endpoints of the current picker, by picking each once.
  std::vector<std::string> Picked() {
    std::set<std::string> seen;
    size_t n = 0;
    for (const EndpointSnapshot& s : pool_->Snapshot()) n += s.picked ? 1 : 0;
    for (size_t i = 0; i < n; ++i) {
      pool_->WithPick([&](PoolEndpoint* e, const absl::Status&) {
        if (e != nullptr) seen.insert(e->host_port());
        return 0;
      });
    }
    return {seen.begin(), seen.end()};
  }
  absl::Status PickStatus() {
    return pool_->WithPick([](PoolEndpoint* e, const absl::Status& why) {
      return e == nullptr ? why : absl::OkStatus();
    });
  }

  FakeClock clock_;
  FakeSubchannelFactory factory_;
  std::unique_ptr<ChannelPool> pool_;
};

TEST_F(ChannelPoolTest, EmptyPoolSaysWhy) {
  Make();
  absl::Status s = PickStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("no endpoint to call for Service demo/web:80"));
  pool_->Apply(Set({}));
  EXPECT_EQ(PickStatus().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ChannelPoolTest, AppliesDeltasAndPicksOnlyReadyOnes) {
  Make();
  pool_->Apply(Set({E("10.0.0.1"), E("10.0.0.2"), E("10.0.0.3")}));
  // Nothing READY yet: all of them (calls wait for a connection).
  EXPECT_EQ(Picked().size(), 3u);
  Ready({"10.0.0.1"});
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.1:8080"));
  Ready({"10.0.0.2", "10.0.0.3"});
  EXPECT_EQ(Picked().size(), 3u);
  // 10.0.0.1 leaves, 10.0.0.4 arrives: .1 is out at once; .4 joins once READY.
  pool_->Apply(Set({E("10.0.0.2"), E("10.0.0.3"), E("10.0.0.4")}));
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.2:8080", "10.0.0.3:8080"));
  Ready({"10.0.0.4"});
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.2:8080", "10.0.0.3:8080", "10.0.0.4:8080"));
  // A failing channel leaves the rotation; it comes back when READY again.
  factory_.SetState("10.0.0.3:8080", ChannelState::kTransientFailure);
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.2:8080", "10.0.0.4:8080"));
  Ready({"10.0.0.3"});
  EXPECT_EQ(Picked().size(), 3u);
  // One channel per endpoint, however often the set is re-applied.
  pool_->Apply(Set({E("10.0.0.2"), E("10.0.0.3"), E("10.0.0.4")}));
  EXPECT_EQ(factory_.created("10.0.0.2:8080"), 1);
}

TEST_F(ChannelPoolTest, StateFallbacksFollowRoundRobin) {
  Make();
  pool_->Apply(Set({E("10.0.0.1"), E("10.0.0.2")}));
  factory_.SetState("10.0.0.1:8080", ChannelState::kConnecting);
  factory_.SetState("10.0.0.2:8080", ChannelState::kTransientFailure);
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.1:8080"));  // not the failing one
  factory_.SetState("10.0.0.1:8080", ChannelState::kTransientFailure);
  EXPECT_EQ(Picked().size(), 2u);  // all failing: all (calls fail fast, retries move on)
}

TEST_F(ChannelPoolTest, RemovedEndpointsDrainThenRelease) {
  PoolOptions options;
  options.drain_grace = absl::Seconds(10);
  Make(options);
  pool_->Apply(Set({E("10.0.0.1"), E("10.0.0.2")}));
  Ready({"10.0.0.1", "10.0.0.2"});
  std::shared_ptr<PoolEndpoint> busy;
  for (int i = 0; i < 2 && busy == nullptr; ++i) {
    pool_->WithPick([&](PoolEndpoint* e, const absl::Status&) {
      if (e->host_port() == "10.0.0.2:8080") busy = e->shared_from_this();
      return 0;
    });
  }
  ASSERT_NE(busy, nullptr);
  busy->calls().Started();  // a call in flight through the helper

  pool_->Apply(Set({}));  // both leave (scale to zero)
  EXPECT_EQ(PickStatus().code(), absl::StatusCode::kUnavailable);
  pool_->RunMaintenance();  // .1 is idle: released; .2 still has a call
  std::vector<std::string> left;
  for (const EndpointSnapshot& s : pool_->Snapshot()) left.push_back(s.host_port);
  EXPECT_THAT(left, ElementsAre("10.0.0.2:8080"));
  EXPECT_TRUE(pool_->Snapshot()[0].draining);
  clock_.Advance(absl::Seconds(11));  // the grace period ends even if the call does not
  pool_->RunMaintenance();
  EXPECT_TRUE(pool_->Snapshot().empty());
  EXPECT_EQ(factory_.live(), 0);
  busy->calls().Finished(/*ok=*/true);
  // The endpoint object outlives the pool's use for whoever still holds it.
  EXPECT_EQ(busy->host_port(), "10.0.0.2:8080");
}

TEST_F(ChannelPoolTest, AnEndpointThatReturnsWhileDrainingKeepsItsChannel) {
  Make();
  pool_->Apply(Set({E("10.0.0.1")}));
  Ready({"10.0.0.1"});
  pool_->Apply(Set({E("10.0.0.1", /*ready=*/false)}));  // readiness flaps off
  EXPECT_EQ(PickStatus().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(factory_.resets("10.0.0.1:8080"), 0);
  pool_->Apply(Set({E("10.0.0.1")}));  // and on again
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.1:8080"));
  EXPECT_EQ(factory_.created("10.0.0.1:8080"), 1);
  // The API says it is ready: its channel skips the reconnect backoff that a
  // crash may have left (else the pod waits up to gRPC's backoff to serve).
  EXPECT_EQ(factory_.resets("10.0.0.1:8080"), 1);
}

// Applying discovery's deltas gives the same pool as applying whole sets.
TEST(ChannelPoolDeltaTest, DeltasGiveTheSamePoolAsWholeSets) {
  FakeClock clock;
  FakeSubchannelFactory full_factory({.initial = ChannelState::kReady});
  FakeSubchannelFactory delta_factory({.initial = ChannelState::kReady});
  PoolOptions options;
  options.clock = &clock;
  options.start_worker = false;
  ChannelPool full("demo/web:80", &full_factory, options);
  ChannelPool incremental("demo/web:80", &delta_factory, options);
  std::mt19937 rng(42);
  std::map<int, bool> pods;  // index -> ready
  std::shared_ptr<const EndpointSet> before;
  for (int round = 0; round < 300; ++round) {
    // Up to three changes per round: add, remove, flip readiness, change zone.
    for (int k = rng() % 4; k > 0; --k) {
      const int i = rng() % 40;
      switch (rng() % 3) {
        case 0:
          pods[i] = true;
          break;
        case 1:
          pods.erase(i);
          break;
        default:
          if (pods.count(i) > 0) pods[i] = !pods[i];
      }
    }
    std::vector<Endpoint> endpoints;
    for (const auto& [i, ready] : pods) {
      Endpoint e = E(absl::StrCat("10.0.1.", i), ready);
      e.zone = round % 7 == 0 ? "zone-b" : "zone-a";  // a change that keeps the key
      endpoints.push_back(e);
    }
    std::shared_ptr<const EndpointSet> set = Set(endpoints);
    const EndpointDelta delta = Diff(before.get(), *set);
    full.Apply(set);
    incremental.Apply(set, &delta);
    before = set;
    if (round % 10 == 0) {
      clock.Advance(absl::Seconds(11));  // drains end
      full.RunMaintenance();
      incremental.RunMaintenance();
    }
    auto view = [](ChannelPool& pool) {
      std::vector<std::string> out;
      for (const EndpointSnapshot& s : pool.Snapshot()) {
        out.push_back(absl::StrCat(s.host_port, s.draining ? " draining" : "",
                                   s.picked ? " picked" : "", " ", s.zone));
      }
      return out;
    };
    ASSERT_EQ(view(full), view(incremental)) << "round " << round;
  }
}

TEST_F(ChannelPoolTest, HealthChecksTakeEndpointsOutAndBack) {
  std::map<std::string, bool> healthy = {{"10.0.0.1:8080", true}, {"10.0.0.2:8080", true}};
  PoolOptions options;
  options.health.mode = HealthCheckOptions::Mode::kCustom;
  options.health.interval = absl::Seconds(5);
  options.health.ping = [&](PoolEndpoint& e, absl::Time) {
    return healthy[e.host_port()] ? absl::OkStatus() : absl::UnavailableError("sick");
  };
  Make(options);
  pool_->Apply(Set({E("10.0.0.1"), E("10.0.0.2")}));
  Ready({"10.0.0.1", "10.0.0.2"});
  pool_->RunMaintenance();
  EXPECT_EQ(Picked().size(), 2u);
  healthy["10.0.0.2:8080"] = false;
  pool_->RunMaintenance();  // not due yet: nothing changes
  EXPECT_EQ(Picked().size(), 2u);
  clock_.Advance(absl::Seconds(5));
  pool_->RunMaintenance();
  EXPECT_THAT(Picked(), ElementsAre("10.0.0.1:8080"));
  healthy["10.0.0.1:8080"] = false;
  clock_.Advance(absl::Seconds(5));
  pool_->RunMaintenance();
  absl::Status s = PickStatus();
  EXPECT_THAT(s.message(), HasSubstr("none of its 2 endpoints passes health checks"));
  healthy["10.0.0.1:8080"] = healthy["10.0.0.2:8080"] = true;
  clock_.Advance(absl::Seconds(5));
  pool_->RunMaintenance();
  EXPECT_EQ(Picked().size(), 2u);
}

TEST_F(ChannelPoolTest, AThrowingHealthCheckCountsAsUnhealthy) {
  PoolOptions options;
  options.health.mode = HealthCheckOptions::Mode::kCustom;
  options.health.ping = [](PoolEndpoint&, absl::Time) -> absl::Status {
    throw std::runtime_error("user bug");
  };
  Make(options);
  pool_->Apply(Set({E("10.0.0.1")}));
  Ready({"10.0.0.1"});
  pool_->RunMaintenance();
  EXPECT_EQ(PickStatus().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ChannelPoolTest, RoundRobinIsEvenToWithinOne) {
  Make();
  pool_->Apply(Set({E("10.0.0.1"), E("10.0.0.2"), E("10.0.0.3")}));
  Ready({"10.0.0.1", "10.0.0.2", "10.0.0.3"});
  std::map<std::string, int> counts;
  for (int i = 0; i < 1000; ++i) {
    pool_->WithPick([&](PoolEndpoint* e, const absl::Status&) { return ++counts[e->host_port()]; });
  }
  std::vector<int> n;
  for (auto& [k, v] : counts) n.push_back(v);
  EXPECT_THAT(n, UnorderedElementsAre(334, 333, 333));
}

TEST_F(ChannelPoolTest, ShutdownReleasesEverything) {
  Make();
  pool_->Apply(Set({E("10.0.0.1")}));
  Ready({"10.0.0.1"});
  pool_->Shutdown();
  EXPECT_THAT(PickStatus().message(), HasSubstr("shut down"));
  EXPECT_EQ(factory_.live(), 0);
  pool_->Apply(Set({E("10.0.0.2")}));  // ignored
  EXPECT_EQ(factory_.created("10.0.0.2:8080"), 0);
}

// 8 threads pick while the set changes under them: no crash, no lost endpoint,
// no pick of a released endpoint (ASan would see a use after free).
TEST(ChannelPoolStressTest, EightThreadsPickWhileTheSetChanges) {
  FakeSubchannelFactory factory({.initial = ChannelState::kReady, .with_channel = true});
  ChannelPool pool("demo/web:80", &factory, PoolOptions{.start_worker = false});
  std::atomic<bool> stop{false};
  std::atomic<int64_t> picks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        std::shared_ptr<grpc::Channel> channel;
        pool.WithPick([&](PoolEndpoint* e, const absl::Status&) {
          if (e != nullptr && !e->host_port().empty()) {
            channel = e->channel();
            picks++;
          }
          return 0;
        });
        // A real caller makes a call between picks; yield as a stand-in so that
        // 8 threads on a small machine are not all preempted mid-pick.
        std::this_thread::yield();
      }
    });
  }
  for (int round = 0; round < 300; ++round) {
    std::vector<Endpoint> endpoints;
    for (int i = 0; i < 1 + round % 7; ++i)
      endpoints.push_back(E(absl::StrCat("10.0.", round % 3, ".", i)));
    pool.Apply(EndpointSet::Create(endpoints));
    pool.RunMaintenance();
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(picks.load(), 0);
}

}  // namespace
}  // namespace kubegrpc

namespace kubegrpc {
namespace {

// Real time, with the pool's worker: a custom check that hangs takes only its own
// endpoint out, maintenance goes on, and Shutdown does not wait for it.
TEST(ChannelPoolRealTimeTest, AHangingCustomCheckTakesOnlyItsEndpointOut) {
  FakeSubchannelFactory factory;
  absl::Notification release;
  std::atomic<int> hung_calls{0};
  std::atomic<int> other_calls{0};
  PoolOptions options;
  options.drain_grace = absl::Milliseconds(100);
  options.health.mode = HealthCheckOptions::Mode::kCustom;
  options.health.interval = absl::Milliseconds(100);
  // Far longer than a healthy check takes even on a loaded machine.
  options.health.timeout = absl::Seconds(3);
  options.health.ping = [&](PoolEndpoint& e, absl::Time) {
    if (e.host_port() == "10.0.0.1:8080") {
      ++hung_calls;
      release.WaitForNotification();  // a user's Ping that never answers
      return absl::OkStatus();
    }
    ++other_calls;
    return absl::OkStatus();
  };
  auto pool = std::make_unique<ChannelPool>("demo/web:80", &factory, options);
  pool->Apply(EndpointSet::Create({E("10.0.0.1"), E("10.0.0.2"), E("10.0.0.3")}));
  for (const char* ip : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    factory.SetState(absl::StrCat(ip, ":8080"), ChannelState::kReady);
  }
  auto picked = [&] {
    std::set<std::string> seen;
    for (int i = 0; i < 12; ++i) {
      pool->WithPick([&](PoolEndpoint* e, const absl::Status&) {
        if (e != nullptr) seen.insert(e->host_port());
        return 0;
      });
    }
    return seen;
  };
  // The hung endpoint leaves rotation once its check is past its deadline.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (picked().count("10.0.0.1:8080") != 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(picked(), UnorderedElementsAre("10.0.0.2:8080", "10.0.0.3:8080"));
  // Checks of the others go on, and no second check of the hung one starts.
  const int others_before = other_calls.load();
  while (other_calls.load() < others_before + 4 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE(other_calls.load(), others_before + 4);
  EXPECT_EQ(hung_calls.load(), 1);
  // Maintenance still drains removed endpoints.
  pool->Apply(EndpointSet::Create({E("10.0.0.1"), E("10.0.0.2")}));
  while (pool->Snapshot().size() != 2 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(pool->Snapshot().size(), 2u);
  // Shutdown returns while the check still hangs; releasing it later is harmless.
  pool->Shutdown();
  pool.reset();
  release.Notify();
  absl::SleepFor(absl::Milliseconds(50));
}

}  // namespace
}  // namespace kubegrpc

namespace kubegrpc {
namespace {

std::vector<Endpoint> Many(int n) {
  std::vector<Endpoint> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    out.push_back(E(absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256)));
  }
  return out;
}

std::set<std::string> Held(ChannelPool& pool) {
  std::set<std::string> out;
  for (const EndpointSnapshot& s : pool.Snapshot()) out.insert(s.host_port);
  return out;
}

TEST(ChannelPoolLimitsTest, PastMaxEndpointsTheSameClientKeepsTheSameSubset) {
  FakeSubchannelFactory factory;
  PoolOptions options{.start_worker = false};
  options.max_endpoints = 1000;
  options.subset_key = "client-a";
  ChannelPool a("demo/web:80", &factory, options);
  ChannelPool a_again("demo/web:80", &factory, options);
  options.subset_key = "client-b";
  ChannelPool b("demo/web:80", &factory, options);
  auto set = EndpointSet::Create(Many(4000));
  a.Apply(set);
  a_again.Apply(set);
  b.Apply(set);
  EXPECT_EQ(Held(a).size(), 1000u);
  EXPECT_EQ(Held(a), Held(a_again));
  EXPECT_NE(Held(a), Held(b));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status().message(), HasSubstr("4000 usable endpoints"));
  EXPECT_THAT(a.status().message(), HasSubstr("subset of 1000"));
  // The subset follows the Service: endpoints outside it come and go without
  // moving it; under the limit again, every endpoint is held.
  std::vector<Endpoint> more = Many(4000);
  more.push_back(E("10.200.0.1"));
  const std::set<std::string> before = Held(a);
  a.Apply(EndpointSet::Create(more));
  std::set<std::string> after = Held(a);
  after.erase("10.200.0.1:8080");
  size_t kept = 0;
  for (const std::string& k : before) kept += after.count(k);
  EXPECT_GE(kept, 999u);
  a.Apply(EndpointSet::Create(Many(900)));
  a.RunMaintenance();
  EXPECT_TRUE(a.status().ok());
}

TEST(ChannelPoolLimitsTest, TheDescriptorLimitCapsThePoolWithAClearStatus) {
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  // Room for about 300 more descriptors than are open now.
  int open_now = 0;
  for (int fd = 0; fd < 4096; ++fd) open_now += fcntl(fd, F_GETFD) != -1 ? 1 : 0;
  struct rlimit low = old;
  low.rlim_cur = open_now + 300;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  FakeSubchannelFactory factory({.uses_descriptors = true});
  ChannelPool pool("demo/web:80", &factory, PoolOptions{.start_worker = false});
  pool.Apply(EndpointSet::Create(Many(2000)));
  const size_t held = Held(pool).size();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_GT(held, 0u);
  EXPECT_LE(held, 300u);
  EXPECT_THAT(pool.status().message(), HasSubstr("descriptor limit"));
}

// 100,000 endpoints: a snapshot is linear (it used to search the picker for
// each endpoint) and correct.
TEST(ChannelPoolLimitsTest, ASnapshotOfAHundredThousandEndpointsIsLinear) {
  FakeSubchannelFactory factory({.initial = ChannelState::kReady});
  PoolOptions options{.start_worker = false};
  options.max_endpoints = 200000;
  ChannelPool pool("demo/web:80", &factory, options);
  pool.Apply(EndpointSet::Create(Many(100000)));
  std::vector<EndpointSnapshot> snapshot = pool.Snapshot();
  ASSERT_EQ(snapshot.size(), 100000u);
  size_t picked = 0;
  for (const EndpointSnapshot& s : snapshot) picked += s.picked ? 1 : 0;
  EXPECT_EQ(picked, 100000u);
  EXPECT_TRUE(std::is_sorted(snapshot.begin(), snapshot.end(), [](const auto& a, const auto& b) {
    return a.host_port < b.host_port;
  }));
}

}  // namespace
}  // namespace kubegrpc

namespace kubegrpc {
namespace {

// The picker is kept incrementally (entries move in and out of it as their
// state, health or draining changes, with a full rebuild only when the pick
// tier changes). Random changes on virtual time; after each, what picks hand
// out must be exactly what Snapshot() computes from every entry.
TEST_F(ChannelPoolTest, IncrementalPickerMatchesEveryEntry) {
  Make({.drain_grace = absl::Seconds(5)});
  std::mt19937 rng(11);
  std::shared_ptr<const EndpointSet> set = Set({});
  pool_->Apply(set);
  const ChannelState states[] = {ChannelState::kReady, ChannelState::kConnecting,
                                 ChannelState::kTransientFailure, ChannelState::kIdle};
  for (int step = 0; step < 300; ++step) {
    const int op = static_cast<int>(rng() % 4);
    if (op == 0 || op == 1) {
      std::vector<EndpointChange> changes;
      for (int i = 0; i < 1 + static_cast<int>(rng() % 4); ++i) {
        Endpoint e = E(absl::StrCat("10.0.0.", rng() % 40), rng() % 4 != 0);
        EndpointChange c;
        c.address = e.address;
        c.port = e.port;
        if (rng() % 3 != 0) c.now = e;
        bool dup = false;
        for (const EndpointChange& o : changes) dup |= o.address == c.address;
        if (!dup) changes.push_back(std::move(c));
      }
      EndpointSet::Next next = set->With(changes);
      if (next.set != nullptr) {
        pool_->Apply(next.set, &next.delta);
        set = next.set;
      }
    } else if (op == 2) {
      for (const EndpointSnapshot& s : pool_->Snapshot()) {
        if (rng() % 3 == 0) factory_.SetState(s.host_port, states[rng() % 4]);
      }
    } else {
      clock_.Advance(absl::Seconds(static_cast<int>(rng() % 4)));
      pool_->RunMaintenance();
    }
    std::set<std::string> want;
    for (const EndpointSnapshot& s : pool_->Snapshot()) {
      if (s.picked) want.insert(s.host_port);
    }
    std::set<std::string> got;
    for (size_t i = 0; i < 3 * want.size() + 1; ++i) {
      pool_->WithPick([&](PoolEndpoint* e, const absl::Status&) {
        if (e != nullptr) got.insert(e->host_port());
        return 0;
      });
    }
    ASSERT_EQ(got, want) << "step " << step;
  }
}

}  // namespace
}  // namespace kubegrpc
