// ChannelPool's passive outlier detection on virtual time, with fake
// subchannels: calls' outcomes are recorded on the endpoints' counters as a
// pod's channel would record them.

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

std::shared_ptr<const EndpointSet> Pods(int n) {
  std::vector<Endpoint> endpoints;
  for (int i = 0; i < n; ++i) {
    Endpoint e;
    e.address = absl::StrCat("10.0.0.", i + 1);
    e.port = 8080;
    e.pod_name = absl::StrCat("pod-", i);
    e.ready = true;
    endpoints.push_back(e);
  }
  return EndpointSet::Create(std::move(endpoints));
}

std::string Key(int i) { return absl::StrCat("10.0.0.", i + 1, ":8080"); }

class OutlierPoolTest : public ::testing::Test {
 protected:
  void Make(int pods, OutlierDetectionOptions outlier = {}) {
    PoolOptions options;
    options.clock = &clock_;
    options.start_worker = false;
    options.outlier_detection = std::move(outlier);
    pool_ = std::make_unique<ChannelPool>("demo/web:80", &factory_, options);
    pool_->Apply(Pods(pods));
    for (int i = 0; i < pods; ++i) factory_.SetState(Key(i), ChannelState::kReady);
  }
  // `n` calls, round-robin; those to a pod in `failing` end with `code`.
  // Returns the calls each pod got.
  std::map<std::string, int> Calls(int n, const std::set<std::string>& failing,
                                   grpc::StatusCode code = grpc::StatusCode::UNAVAILABLE) {
    std::map<std::string, int> got;
    for (int i = 0; i < n; ++i) {
      std::shared_ptr<PoolEndpoint> e = pool_->WithPick([](PoolEndpoint* p, const absl::Status&) {
        return p != nullptr ? p->shared_from_this() : nullptr;
      });
      if (e == nullptr) continue;
      ++got[e->host_port()];
      e->calls().Started();
      e->calls().Finished(failing.count(e->host_port()) > 0 ? code : grpc::StatusCode::OK,
                          absl::Milliseconds(1));
    }
    return got;
  }
  EndpointSnapshot Of(const std::string& key) {
    for (const EndpointSnapshot& s : pool_->Snapshot()) {
      if (s.host_port == key) return s;
    }
    ADD_FAILURE() << key << " not in the pool";
    return {};
  }
  int Ejected() {
    int n = 0;
    for (const EndpointSnapshot& s : pool_->Snapshot()) n += s.ejected ? 1 : 0;
    return n;
  }
  void Advance(absl::Duration d) {
    // Maintenance as the worker runs it, every 100 ms.
    for (absl::Duration t; t < d; t += absl::Milliseconds(100)) {
      clock_.Advance(absl::Milliseconds(100));
      pool_->RunMaintenance();
    }
  }

  FakeClock clock_;
  FakeSubchannelFactory factory_;
  std::unique_ptr<ChannelPool> pool_;
};

TEST_F(OutlierPoolTest, APodThatFailsEveryCallIsEjectedAndReturns) {
  Make(4);
  // Round-robin: pod 0 gets every 4th call; its 5th failure in a row ejects it.
  std::map<std::string, int> got = Calls(20, {Key(0)});
  EXPECT_EQ(got[Key(0)], 5);
  EndpointSnapshot s = Of(Key(0));
  EXPECT_TRUE(s.ejected);
  EXPECT_FALSE(s.picked);
  EXPECT_THAT(s.ejection_reason, HasSubstr("5 calls in a row failed"));
  EXPECT_EQ(s.ejected_until, clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(s.ejections, 1);
  got = Calls(300, {Key(0)});
  EXPECT_EQ(got.count(Key(0)), 0u);  // no call while ejected
  EXPECT_EQ(got[Key(1)], 100);

  Advance(absl::Seconds(30));  // the base ejection time
  EXPECT_FALSE(Of(Key(0)).ejected);
  EXPECT_TRUE(Of(Key(0)).picked);
  // Still failing: out again at once, for twice as long (its second in a row).
  got = Calls(20, {Key(0)});
  EXPECT_EQ(got[Key(0)], 5);
  EXPECT_TRUE(Of(Key(0)).ejected);
  EXPECT_EQ(Of(Key(0)).ejections, 2);
  EXPECT_EQ(Of(Key(0)).ejected_until, clock_.Now() + absl::Seconds(60));
  Advance(absl::Seconds(60));
  EXPECT_FALSE(Of(Key(0)).ejected);
  // Healthy now: no more ejections, and each clean interval pays one back.
  Calls(400, {});
  Advance(absl::Seconds(25));
  EXPECT_EQ(Of(Key(0)).ejections, 0);
  EXPECT_EQ(Ejected(), 0);
}

TEST_F(OutlierPoolTest, MaxEjectionPercentHoldsWithEveryPodFailing) {
  OutlierDetectionOptions o;
  o.max_ejection_percent = 25;
  Make(8, o);
  std::set<std::string> all;
  for (int i = 0; i < 8; ++i) all.insert(Key(i));
  std::map<std::string, int> got = Calls(1000, all);
  EXPECT_EQ(Ejected(), 2);  // 25 % of 8
  EXPECT_EQ(got.size(), 8u);
  // The pool still has 6 endpoints to try; calls keep going to them.
  got = Calls(60, all);
  EXPECT_EQ(got.size(), 6u);
  // The two return; still failing, two are out again (each run of 5 more
  // failures asks again): never more than two at a time.
  Advance(absl::Seconds(30));
  EXPECT_EQ(Ejected(), 0);
  Calls(100, all);
  EXPECT_EQ(Ejected(), 2);
}

TEST_F(OutlierPoolTest, AHangingPodIsOutAfterItsDeadlineExceededCalls) {
  Make(3);
  Calls(30, {Key(2)}, grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(Of(Key(2)).ejected);
}

TEST_F(OutlierPoolTest, RequestErrorsDoNotEjectAndEndARun) {
  Make(3);
  // NOT_FOUND is the request's fault, not the pod's.
  Calls(300, {Key(1)}, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Ejected(), 0);
  // Four failures, an answer, four failures: never five in a row.
  for (int round = 0; round < 3; ++round) {
    Calls(12, {Key(1)});
    Calls(3, {Key(1)}, grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Ejected(), 0);
}

TEST_F(OutlierPoolTest, SuccessRateEjectsAPodFailingSomeCalls) {
  OutlierDetectionOptions o;
  o.consecutive_failures = 0;  // the rate rule alone
  Make(6, o);
  Advance(absl::Milliseconds(100));  // the first interval starts
  // Pod 3 fails every other call: never 5 in a row, but far below the others.
  int pod3_calls = 0;
  for (int i = 0; i < 1200; ++i) {
    std::shared_ptr<PoolEndpoint> e =
        pool_->WithPick([](PoolEndpoint* p, const absl::Status&) { return p->shared_from_this(); });
    e->calls().Started();
    const bool fail = e->host_port() == Key(3) && (pod3_calls++ % 2) == 0;
    e->calls().Finished(fail ? grpc::StatusCode::INTERNAL : grpc::StatusCode::OK,
                        absl::ZeroDuration());
  }
  EXPECT_EQ(Ejected(), 0);  // only at the interval's end
  Advance(absl::Seconds(10));
  EXPECT_TRUE(Of(Key(3)).ejected);
  EXPECT_THAT(Of(Key(3)).ejection_reason, HasSubstr("success rate"));
  EXPECT_EQ(Ejected(), 1);
}

TEST_F(OutlierPoolTest, OffMeansNeverEjected) {
  OutlierDetectionOptions o;
  o.enabled = false;
  Make(3, o);
  Calls(300, {Key(0)});
  Advance(absl::Seconds(20));
  EXPECT_EQ(Ejected(), 0);
}

TEST_F(OutlierPoolTest, AnEjectedPodThatLeavesTheServiceIsNoLongerCounted) {
  OutlierDetectionOptions o;
  o.max_ejection_percent = 50;
  Make(2, o);
  Calls(20, {Key(1)});
  EXPECT_TRUE(Of(Key(1)).ejected);
  pool_->Apply(Pods(1));  // pod 1 leaves: it drains
  EXPECT_TRUE(Of(Key(1)).draining);
  EXPECT_FALSE(Of(Key(1)).ejected);  // and no longer counts as ejected
  EXPECT_EQ(Ejected(), 0);
}

TEST_F(OutlierPoolTest, NeverEjectsTheLastReadyEndpoint) {
  OutlierDetectionOptions o;
  o.max_ejection_percent = 100;
  Make(2, o);
  Calls(100, {Key(0), Key(1)});
  EXPECT_EQ(Ejected(), 1);  // the other one stays: calls still reach a pod
  EXPECT_TRUE(pool_->EmptyStatus().ok());
  // A lone pod is never cut off for failing a few calls.
  Make(1);
  Calls(100, {Key(0)});
  EXPECT_EQ(Ejected(), 0);
}

TEST_F(OutlierPoolTest, EventsForAddedEjectedReturnedAndRemoved) {
  std::vector<BalancerEvent> events;
  PoolOptions options;
  options.clock = &clock_;
  options.start_worker = false;
  pool_ = std::make_unique<ChannelPool>("demo/web:80", &factory_, options,
                                        [&](BalancerEvent e) { events.push_back(std::move(e)); });
  pool_->Apply(Pods(3));
  for (int i = 0; i < 3; ++i) factory_.SetState(Key(i), ChannelState::kReady);
  Calls(15, {Key(1)});
  Advance(absl::Seconds(30));
  pool_->Apply(Pods(2));  // pod 2 leaves
  std::vector<std::string> seen;
  for (const BalancerEvent& e : events) {
    EXPECT_EQ(e.service, "demo/web:80");
    seen.push_back(absl::StrCat(KindName(e.kind), " ", e.pod));
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("endpoint_added pod-0", "endpoint_added pod-1",
                                           "endpoint_added pod-2", "endpoint_ejected pod-1",
                                           "endpoint_returned pod-1", "endpoint_removed pod-2"));
  EXPECT_THAT(events[3].detail, HasSubstr("5 calls in a row failed; out for 30s"));
}

}  // namespace
}  // namespace kubegrpc
