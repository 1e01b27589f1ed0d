// Passive outlier ejection end to end: real gRPC pods (FakePod) behind
// fakek8s, the real Balancer, and calls made on stubs the caller holds (not
// through kubegrpc::Call): the pods' channels count them, and the pool ejects
// a pod that fails or hangs its calls.

#include <map>
#include <string>

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

class OutlierE2ETest : public ::testing::Test {
 protected:
  void Start(BalancerOptions options) {
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateDeployment({.name = "web", .replicas = 3}).ok());
    auto balancer = Balancer::Create(cluster_->client_config(), std::move(options));
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
    auto handle = balancer_->Connect<Echo>("web.demo:80");
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = *std::move(handle);
    ASSERT_TRUE(WaitFor([&] { return Picked() == 3; }));
  }
  // One call on the next pod's stub, as a user who holds stubs makes it, with
  // a 30 s deadline (`short_deadline_pod` gets 200 ms: it is known to hang).
  // Returns the pod that answered ("" if it failed).
  std::string CallOnce(const std::string& short_deadline_pod = "") {
    absl::StatusOr<std::shared_ptr<PoolEndpoint>> endpoint = handle_.channels().NextEndpoint();
    if (!endpoint.ok()) return "";
    const bool short_deadline = (*endpoint)->pod_name() == short_deadline_pod;
    std::shared_ptr<Echo::Stub> stub = StubHandle<Echo>::StubOf(*std::move(endpoint));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(
        absl::Now() + (short_deadline ? absl::Milliseconds(200) : absl::Seconds(30))));
    EchoRequest request;
    EchoResponse response;
    grpc::Status status = stub->Echo(&context, request, &response);
    return status.ok() ? response.pod_name() : "";
  }
  std::vector<EndpointSnapshot> Endpoints() {
    for (const ServiceSnapshot& s : balancer_->Snapshot()) return s.endpoints;
    return {};
  }
  // Picked and READY. Picked alone is not enough: while no channel is READY
  // the pool picks the CONNECTING ones too, and drops those still connecting
  // once another is READY (CI saw the hung pod leave the picker that way right
  // after Start, so the loop below never called it).
  int Picked() {
    int n = 0;
    for (const EndpointSnapshot& e : Endpoints()) {
      n += e.picked && e.state == ChannelState::kReady ? 1 : 0;
    }
    return n;
  }
  std::optional<EndpointSnapshot> Pod(const std::string& name) {
    for (const EndpointSnapshot& e : Endpoints()) {
      if (e.pod_name == name) return e;
    }
    return std::nullopt;
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
};

TEST_F(OutlierE2ETest, APodThatFailsItsCallsIsEjectedAndReturns) {
  BalancerOptions options;
  options.pool.outlier_detection.base_ejection_time = absl::Seconds(5);
  Start(std::move(options));
  const std::string bad = cluster_->Pods("web")[0];
  cluster_->pod(bad)->FailNextCalls(5, grpc::StatusCode::UNAVAILABLE);
  // Round-robin brings the bad pod its 5 calls within a few rounds (not
  // necessarily every third call: a picker republished on the way restarts
  // the rotation, as a loaded machine showed).
  ASSERT_TRUE(WaitFor([&] {
    CallOnce();
    return Pod(bad)->failures >= 5;
  }));
  std::optional<EndpointSnapshot> e = Pod(bad);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->ejected);
  EXPECT_FALSE(e->picked);
  EXPECT_THAT(e->ejection_reason, HasSubstr("5 calls in a row failed"));
  EXPECT_EQ(e->failures, 5);
  EXPECT_GE(e->calls, 5);
  // Back after its ejection time; its calls succeed again.
  ASSERT_TRUE(WaitFor([&] { return Pod(bad)->picked; }));
  EXPECT_FALSE(Pod(bad)->ejected);
  ASSERT_TRUE(WaitFor([&] { return CallOnce() == bad; }));
}

TEST_F(OutlierE2ETest, AHangingPodIsOutAfterItsDeadlineExceededCalls) {
  Start({});
  const std::string hung = cluster_->Pods("web")[1];
  ASSERT_TRUE(cluster_->HangPod(hung, absl::Minutes(5)).ok());
  // Calls to it run out their deadline; the fifth in a row takes it out.
  ASSERT_TRUE(Pod(hung).has_value());
  ASSERT_TRUE(Pod(hung)->picked);
  int failed = 0;
  for (int i = 0; i < 30 && Pod(hung)->picked; ++i) {
    failed += CallOnce(/*short_deadline_pod=*/hung).empty() ? 1 : 0;
  }
  std::optional<EndpointSnapshot> e = Pod(hung);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->ejected);
  EXPECT_EQ(failed, 5);
  // Then every call reaches a pod that answers.
  for (int i = 0; i < 20; ++i) EXPECT_NE(CallOnce(), "") << i;
  EXPECT_EQ(Pod(hung)->in_flight, 0);
}

// BalancerOptions::on_event: what a log would show, in order, on the
// Balancer's own thread.
TEST_F(OutlierE2ETest, EventsNameTheServiceAndWhatHappened) {
  absl::Mutex mu;
  std::vector<BalancerEvent> events;
  BalancerOptions options;
  options.pool.outlier_detection.base_ejection_time = absl::Seconds(2);
  options.on_event = [&](const BalancerEvent& e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  };
  Start(std::move(options));
  auto count = [&](BalancerEvent::Kind kind, const std::string& pod = "") {
    absl::MutexLock lock(&mu);
    int n = 0;
    for (const BalancerEvent& e : events) n += e.kind == kind && (pod.empty() || e.pod == pod);
    return n;
  };
  auto find = [&](BalancerEvent::Kind kind) {
    absl::MutexLock lock(&mu);
    for (const BalancerEvent& e : events) {
      if (e.kind == kind) return e;
    }
    return BalancerEvent();
  };
  ASSERT_TRUE(WaitFor([&] { return count(BalancerEvent::Kind::kEndpointAdded) == 3; }));
  EXPECT_EQ(find(BalancerEvent::Kind::kEndpointAdded).service, "demo/web:80");

  const std::string bad = cluster_->Pods("web")[0];
  cluster_->pod(bad)->FailNextCalls(5, grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(WaitFor([&] {
    CallOnce();
    return count(BalancerEvent::Kind::kEndpointEjected, bad) == 1;
  }));
  EXPECT_THAT(find(BalancerEvent::Kind::kEndpointEjected).detail,
              HasSubstr("5 calls in a row failed; out for 2s"));
  ASSERT_TRUE(WaitFor([&] { return count(BalancerEvent::Kind::kEndpointReturned, bad) == 1; }));

  // The API fails; discovery says so, then that it works again.
  cluster_->api().FailNextRequests(2, 500);
  cluster_->api().DropWatches();
  ASSERT_TRUE(WaitFor([&] { return count(BalancerEvent::Kind::kDiscoveryError) >= 1; }));
  EXPECT_EQ(find(BalancerEvent::Kind::kDiscoveryError).service, "demo/web:80");
  EXPECT_FALSE(find(BalancerEvent::Kind::kDiscoveryError).detail.empty());

  // A pod goes: removed, once; that watch event is discovery's first success
  // since the errors.
  ASSERT_TRUE(cluster_->ScaleTo("web", 2).ok());
  ASSERT_TRUE(WaitFor([&] { return count(BalancerEvent::Kind::kEndpointRemoved) == 1; }));
  ASSERT_TRUE(WaitFor([&] { return count(BalancerEvent::Kind::kDiscoveryRecovered) == 1; }));
  // The Balancer's event thread writes `events`: stop it (and join it) before
  // they go out of scope.
  balancer_.reset();
  absl::MutexLock lock(&mu);
  // In order: the three additions came first.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(events[i].kind, BalancerEvent::Kind::kEndpointAdded);
}

}  // namespace
}  // namespace kubegrpc
