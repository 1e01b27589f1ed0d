// XdsChannels end to end: gRPC's own xDS client (Debian's libgrpc) resolves
// xds:/// targets through kube-grpc's ADS server, fed by discovery against
// fakek8s over HTTPS, and balances real calls over FakePods on loopback.
//
// gRPC's xDS client is process-wide and reads its bootstrap when it is created,
// so the suite shares one cluster and one XdsChannels (serving a Balancer's
// registry: both doors, one discovery per Service); each test has its own
// Service.

#include <atomic>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/balancer.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/xds/xds_channels.h"
#include "nlohmann/json.hpp"
#include "testing/fake_cluster.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc::xds {
namespace {

using ::kubegrpc::testing::DeploymentSpec;
using ::kubegrpc::testing::Echo;
using ::kubegrpc::testing::EchoRequest;
using ::kubegrpc::testing::EchoResponse;
using ::kubegrpc::testing::FakeCluster;
using ::testing::HasSubstr;

class XdsE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    unsetenv("GRPC_XDS_BOOTSTRAP");
    unsetenv("GRPC_XDS_BOOTSTRAP_CONFIG");
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
    auto balancer = Balancer::Create(cluster_->client_config());
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = balancer->release();
    XdsChannelsOptions options;
    options.node_id = "xds-e2e-test";
    auto xds = XdsChannels::Start(balancer_->registry(), "demo", options);
    ASSERT_TRUE(xds.ok()) << xds.status();
    xds_ = xds->release();
  }
  static void TearDownTestSuite() {
    delete xds_;
    delete balancer_;
    delete cluster_;
    xds_ = nullptr;
    balancer_ = nullptr;
    cluster_ = nullptr;
  }

  static std::unique_ptr<Echo::Stub> Stub(const std::string& target) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = xds_->Channel(target);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? Echo::NewStub(*channel) : nullptr;
  }
  // One call; the pod that answered, or "" if it failed (`status` says why).
  static std::string Call(Echo::Stub& stub, grpc::Status* status = nullptr,
                          bool wait_for_ready = true) {
    grpc::ClientContext context;
    context.set_wait_for_ready(wait_for_ready);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    EchoRequest request;
    EchoResponse response;
    grpc::Status s = stub.Echo(&context, request, &response);
    if (status != nullptr) *status = s;
    return s.ok() ? response.pod_name() : "";
  }
  // Calls until every pod in `want` has answered; false after a generous bound.
  static bool AllAnswer(Echo::Stub& stub, const std::set<std::string>& want) {
    std::set<std::string> seen;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      const std::string pod = Call(stub);
      if (want.count(pod) != 0) seen.insert(pod);
      if (seen == want) return true;
    }
    return false;
  }

  // True once `done` holds; false after a generous bound.
  static bool Eventually(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }

  static FakeCluster* cluster_;
  static Balancer* balancer_;
  static XdsChannels* xds_;
};

FakeCluster* XdsE2ETest::cluster_ = nullptr;
Balancer* XdsE2ETest::balancer_ = nullptr;
XdsChannels* XdsE2ETest::xds_ = nullptr;

TEST_F(XdsE2ETest, CallsSpreadOverEveryReadyPodAndFollowScaling) {
  DeploymentSpec spec;
  spec.name = "web";
  spec.replicas = 3;
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  std::unique_ptr<Echo::Stub> stub = Stub("web.demo:80");
  ASSERT_NE(stub, nullptr);
  EXPECT_TRUE(AllAnswer(*stub, {"web-0", "web-1", "web-2"}));

  // Round robin by gRPC: once every pod is in, consecutive calls visit each.
  std::multiset<std::string> round;
  for (int i = 0; i < 30; ++i) round.insert(Call(*stub));
  for (const char* pod : {"web-0", "web-1", "web-2"}) {
    EXPECT_GE(round.count(pod), 5u) << pod;
  }

  ASSERT_TRUE(cluster_->ScaleTo("web", 4).ok());
  EXPECT_TRUE(AllAnswer(*stub, {"web-3"}));

  // A deleted pod stops getting calls (DRAINING, then gone), and none fail.
  ASSERT_TRUE(cluster_->DeletePod("web-0").ok());
  bool gone = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!gone && absl::Now() < deadline) {
    int hits = 0;
    for (int i = 0; i < 20; ++i) {
      grpc::Status status;
      const std::string pod = Call(*stub, &status);
      EXPECT_TRUE(status.ok()) << status.error_message();
      hits += pod == "web-0" ? 1 : 0;
    }
    gone = hits == 0;
  }
  EXPECT_TRUE(gone);
  // LDS, CDS and EDS ACKed at least (the client ACKs after it used them: wait).
  EXPECT_TRUE(Eventually([] { return xds_->server().Stats().acks >= 3; }));
  EXPECT_EQ(xds_->server().Stats().nacks, 0);
}

TEST_F(XdsE2ETest, GrpcTakesThePoliciesTheServiceAnnotates) {
  DeploymentSpec spec;
  spec.name = "ring";
  spec.replicas = 3;
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  absl::StatusOr<nlohmann::json> annotated = cluster_->k8s().store().Mutate(
      fakek8s::Resource::kServices, "demo", "ring", [](nlohmann::json& service) {
        service["metadata"]["annotations"] = {
            {"kube-grpc.io/lb-policy", "ring_hash"},  // refused: served as round_robin
            {"kube-grpc.io/retry", R"({"retryOn": "unavailable", "numRetries": 2})"},
        };
        return absl::OkStatus();
      });
  ASSERT_TRUE(annotated.ok()) << annotated.status();
  const int64_t nacks = xds_->server().Stats().nacks;
  std::unique_ptr<Echo::Stub> stub = Stub("ring.demo:80");
  ASSERT_NE(stub, nullptr);
  // Every pod answers, and gRPC accepted the Cluster and the route's retry
  // policy (ring_hash, which crashed this client, is not served).
  EXPECT_TRUE(AllAnswer(*stub, {"ring-0", "ring-1", "ring-2"}));
  EXPECT_EQ(xds_->server().Stats().nacks, nacks);
}

TEST_F(XdsE2ETest, BothDoorsShareOneDiscoveryPerService) {
  DeploymentSpec spec;
  spec.name = "both";
  spec.replicas = 2;
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  const int64_t lists = cluster_->api().RequestCounts()["list endpointslices"];
  // The pool...
  auto handle = balancer_->Connect<Echo>("both.demo:80");
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE(balancer_->WaitForReady("both.demo:80", absl::Now() + absl::Seconds(60)).ok());
  // ... and an xDS channel to the same Service.
  std::unique_ptr<Echo::Stub> stub = Stub("both.demo:80");
  ASSERT_NE(stub, nullptr);
  EXPECT_TRUE(AllAnswer(*stub, {"both-0", "both-1"}));
  grpc::Status status;
  EchoResponse response;
  status = kubegrpc::Call(*handle, &Echo::Stub::Echo, EchoRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // One discovery for both: its EndpointSlices were listed once (two
  // discoveries would list twice; the suite's other Services are quiet).
  EXPECT_EQ(cluster_->api().RequestCounts()["list endpointslices"], lists + 1);
  EXPECT_EQ(xds_->registry(), balancer_->registry());
}

TEST_F(XdsE2ETest, GrpcRetriesAsTheServiceAsks) {
  DeploymentSpec spec;
  spec.name = "retry";
  spec.replicas = 3;
  spec.service_annotations["kube-grpc.io/retry"] = R"({"retryOn": "unavailable", "numRetries": 2})";
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  std::unique_ptr<Echo::Stub> stub = Stub("retry.demo:80");
  ASSERT_NE(stub, nullptr);
  ASSERT_TRUE(AllAnswer(*stub, {"retry-0", "retry-1", "retry-2"}));
  cluster_->pod("retry-1")->FailNextCalls(3, grpc::StatusCode::UNAVAILABLE);
  // Round robin sends retry-1 a third of the calls: its three failures are
  // retried on another pod by gRPC, so no call fails.
  for (int i = 0; i < 30; ++i) {
    grpc::Status status;
    Call(*stub, &status, /*wait_for_ready=*/false);
    EXPECT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  // The failures were used up: the pod answers directly now.
  auto direct = Echo::NewStub(
      grpc::CreateChannel(cluster_->pod("retry-1")->address(), grpc::InsecureChannelCredentials()));
  grpc::Status status;
  EXPECT_EQ(Call(*direct, &status), "retry-1") << status.error_message();
}

TEST_F(XdsE2ETest, GrpcEjectsAFailingPodAsTheServiceAsks) {
  DeploymentSpec spec;
  spec.name = "od";
  spec.replicas = 3;
  spec.service_annotations["kube-grpc.io/outlier-detection"] =
      R"({"interval": "1s", "baseEjectionTime": "300s", "maxEjectionPercent": 50,
          "failurePercentageEjection": {"threshold": 50, "enforcementPercentage": 100,
                                        "minimumHosts": 3, "requestVolume": 5}})";
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  std::unique_ptr<Echo::Stub> stub = Stub("od.demo:80");
  ASSERT_NE(stub, nullptr);
  ASSERT_TRUE(AllAnswer(*stub, {"od-0", "od-1", "od-2"}));
  cluster_->pod("od-1")->FailNextCalls(1 << 30, grpc::StatusCode::INTERNAL);
  // Without retries od-1's calls fail until gRPC's outlier detection (from
  // the annotation) ejects it; then 60 calls in a row succeed on the others.
  int in_a_row = 0;
  int failed = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (in_a_row < 60 && absl::Now() < deadline) {
    grpc::Status status;
    const std::string pod = Call(*stub, &status, /*wait_for_ready=*/false);
    if (status.ok()) {
      EXPECT_NE(pod, "od-1");
      ++in_a_row;
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
      ++failed;
      in_a_row = 0;
    }
  }
  EXPECT_EQ(in_a_row, 60) << "od-1 was not ejected";
  EXPECT_GE(failed, 1);
}

// Scaled to zero under calls, and back: calls fail as UNAVAILABLE while there
// is no pod (an empty ClusterLoadAssignment), and succeed again after. (Debian's
// gRPC 1.51.1 has a known crash in its weighted_target picker when a Service
// went to zero, grpc/grpc#32486: this is the case that must not hit it.)
TEST_F(XdsE2ETest, ScaledToZeroAndBackUnderCalls) {
  DeploymentSpec spec;
  spec.name = "zero";
  spec.replicas = 2;
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  std::unique_ptr<Echo::Stub> stub = Stub("zero.demo:80");
  ASSERT_NE(stub, nullptr);
  ASSERT_TRUE(AllAnswer(*stub, {"zero-0", "zero-1"}));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, unavailable{0}, other{0};
  absl::Mutex mu;
  std::string other_codes;  // what the unexpected failures were
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        grpc::Status status;
        Call(*stub, &status, /*wait_for_ready=*/false);
        if (status.ok()) {
          ++ok;
        } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          ++unavailable;
        } else if (status.error_code() != grpc::StatusCode::CANCELLED) {
          // CANCELLED: a call in flight when its pod's server stopped (this
          // Service asks for no retries). Anything else is unexpected.
          ++other;
          absl::MutexLock lock(&mu);
          absl::StrAppend(&other_codes, " ", status.error_code(), ": ", status.error_message());
        }
      }
    });
  }
  ASSERT_TRUE(cluster_->ScaleTo("zero", 0).ok());
  // Calls fail while there is no pod (without wait_for_ready).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  const int64_t before = unavailable.load();
  while (unavailable.load() < before + 20 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(unavailable.load(), before + 20);
  ASSERT_TRUE(cluster_->ScaleTo("zero", 2).ok());
  int64_t ok_before = ok.load();
  while (ok.load() < ok_before + 20 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(ok.load(), ok_before + 20);
  // Pods that exist but none ready: the same for gRPC.
  ASSERT_TRUE(cluster_->SetPodReady("zero-2", false).ok());
  ASSERT_TRUE(cluster_->SetPodReady("zero-3", false).ok());
  const int64_t failed_before = unavailable.load();
  while (unavailable.load() < failed_before + 20 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(unavailable.load(), failed_before + 20);
  ASSERT_TRUE(cluster_->SetPodReady("zero-2", true).ok());
  ok_before = ok.load();
  while (ok.load() < ok_before + 20 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  for (std::thread& t : callers) t.join();
  EXPECT_GE(ok.load(), ok_before + 20);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(other.load(), 0) << other_codes;
}

TEST_F(XdsE2ETest, AServiceThatDoesNotExistFailsCallsAsUnavailable) {
  std::unique_ptr<Echo::Stub> stub = Stub("nosuch.demo:80");
  ASSERT_NE(stub, nullptr);
  grpc::Status status;
  EXPECT_EQ(Call(*stub, &status, /*wait_for_ready=*/false), "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("does not exist"));
}

TEST_F(XdsE2ETest, OneXdsChannelsPerProcessAndClearErrors) {
  absl::StatusOr<std::unique_ptr<XdsChannels>> second =
      XdsChannels::Start(cluster_->client_config());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("GRPC_XDS_BOOTSTRAP_CONFIG"));
  EXPECT_EQ(xds_->Channel("not a target").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> uri = xds_->XdsTarget("web.demo.svc.cluster.local:80");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(*uri, "xds:///web.demo:80");
  EXPECT_EQ(*xds_->XdsTarget("web:80"), "xds:///web.demo:80");  // the config's namespace
}

// Shutdown waits until gRPC has let go of the server, so that another
// XdsChannels in the same process is used by new xDS channels (the scenario
// suite starts one per test; here, one after the suite's).
TEST_F(XdsE2ETest, AnotherXdsChannelsAfterShutdownServesNewChannels) {
  DeploymentSpec spec;
  spec.name = "again";
  spec.replicas = 1;
  ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
  {
    std::unique_ptr<Echo::Stub> stub = Stub("again.demo:80");
    ASSERT_NE(stub, nullptr);
    EXPECT_TRUE(AllAnswer(*stub, {"again-0"}));
  }  // the suite's last xDS channel goes
  xds_->Shutdown();
  EXPECT_EQ(xds_->server().Stats().open_streams, 0);
  EXPECT_EQ(std::getenv("GRPC_XDS_BOOTSTRAP_CONFIG"), nullptr);
  XdsChannelsOptions options;
  options.node_id = "xds-e2e-test-2";
  auto second = XdsChannels::Start(cluster_->client_config(), options);
  ASSERT_TRUE(second.ok()) << second.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = (*second)->Channel("again.demo:80");
  ASSERT_TRUE(channel.ok()) << channel.status();
  std::unique_ptr<Echo::Stub> stub = Echo::NewStub(*channel);
  EXPECT_TRUE(AllAnswer(*stub, {"again-0"}));
  EXPECT_TRUE(Eventually([&] { return (*second)->server().Stats().acks >= 3; }));
  stub.reset();
  channel->reset();
  (*second)->Shutdown();
  EXPECT_EQ((*second)->server().Stats().open_streams, 0);
}

}  // namespace
}  // namespace kubegrpc::xds
