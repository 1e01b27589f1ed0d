// PodLifecycle on virtual time with a recording runtime: what each operation
// writes to the API and asks of the processes, and when.

#include "testing/pod_lifecycle.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakek8s/endpoint_controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace kubegrpc::testing {
namespace {

using ::testing::ElementsAre;

class RecordingRuntime : public PodRuntime {
 public:
  std::string NextIp() override { return absl::StrCat("10.0.0.", ++ips_); }
  absl::StatusOr<int> Start(const std::string& pod, const std::string&, int) override {
    log.push_back("start " + pod);
    return 8080;
  }
  void Stop(const std::string& pod) override { log.push_back("stop " + pod); }
  void Crash(const std::string& pod) override { log.push_back("crash " + pod); }
  absl::Status Restart(const std::string& pod) override {
    log.push_back("restart " + pod);
    return absl::OkStatus();
  }
  void Hang(const std::string& pod, absl::Duration) override { log.push_back("hang " + pod); }
  void SetServing(const std::string& pod, bool serving) override {
    log.push_back(absl::StrCat("serving ", pod, " ", serving));
  }
  std::vector<std::string> log;

 private:
  int ips_ = 0;
};

class VirtualTimeline : public Timeline {
 public:
  explicit VirtualTimeline(FakeClock* clock) : clock_(clock) {}
  absl::Time Now() override { return clock_->Now(); }
  void After(absl::Duration d, std::function<void()> step) override { clock_->After(d, step); }

 private:
  FakeClock* clock_;
};

class PodLifecycleTest : public ::testing::Test {
 protected:
  PodLifecycleTest() { controller_.Attach(store_); }
  bool ReadyInApi(const std::string& pod) {
    absl::StatusOr<nlohmann::json> p = store_.Get(fakek8s::Resource::kPods, "demo", pod);
    return p.ok() && (*p)["status"]["conditions"][0]["status"] == "True";
  }
  bool Exists(const std::string& pod) {
    return store_.Get(fakek8s::Resource::kPods, "demo", pod).ok();
  }
  std::vector<std::string> Kinds() {
    std::vector<std::string> out;
    for (const ClusterEvent& e : lifecycle_.Events()) {
      out.push_back(absl::StrCat(e.pod, " ", ClusterEventName(e.kind)));
    }
    return out;
  }

  FakeClock clock_;
  fakek8s::ObjectStore store_;
  fakek8s::EndpointController controller_;
  RecordingRuntime runtime_;
  VirtualTimeline timeline_{&clock_};
  PodLifecycle lifecycle_{&store_, &runtime_, &timeline_, {}};
  const DeploymentSpec spec_{
      .name = "web", .replicas = 2, .readiness_delay = absl::Milliseconds(100)};
};

TEST_F(PodLifecycleTest, ADeploymentIsPodsAndAServiceOnTheirPort) {
  ASSERT_TRUE(lifecycle_.CreateDeployment(spec_).ok());
  EXPECT_THAT(lifecycle_.Pods("web"), ElementsAre("web-0", "web-1"));
  EXPECT_FALSE(ReadyInApi("web-0"));  // the readiness delay has not passed
  clock_.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(ReadyInApi("web-0"));
  EXPECT_TRUE(ReadyInApi("web-1"));
  absl::StatusOr<nlohmann::json> service = store_.Get(fakek8s::Resource::kServices, "demo", "web");
  ASSERT_TRUE(service.ok());
  EXPECT_EQ((*service)["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(lifecycle_.PodAt("10.0.0.1:8080"), "web-0");
}

TEST_F(PodLifecycleTest, ADeletedPodTerminatesThenItsProcessStopsThenItGoes) {
  ASSERT_TRUE(lifecycle_.CreateDeployment(spec_).ok());
  clock_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(lifecycle_.Delete("web-0", absl::Milliseconds(200)).ok());
  EXPECT_TRUE(lifecycle_.Status("web-0")->terminating);
  EXPECT_TRUE(Exists("web-0"));
  EXPECT_THAT(lifecycle_.Pods("web"), ElementsAre("web-1"));
  clock_.Advance(absl::Milliseconds(199));
  EXPECT_TRUE(lifecycle_.Status("web-0")->running);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(Exists("web-0"));
  EXPECT_TRUE(lifecycle_.Status("web-0")->deleted);
  EXPECT_EQ(runtime_.log.back(), "stop web-0");
  EXPECT_EQ(lifecycle_.Delete("web-9", absl::ZeroDuration()).code(), absl::StatusCode::kNotFound);
}

TEST_F(PodLifecycleTest, ACrashedPodRestartsOnItsAddressAndIsReadyAfterTheDelay) {
  ASSERT_TRUE(lifecycle_.CreateDeployment(spec_).ok());
  clock_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(lifecycle_.Crash("web-1", absl::Milliseconds(500)).ok());
  EXPECT_FALSE(ReadyInApi("web-1"));
  EXPECT_FALSE(lifecycle_.Status("web-1")->running);
  clock_.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(lifecycle_.Status("web-1")->running);
  EXPECT_FALSE(ReadyInApi("web-1"));
  clock_.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(ReadyInApi("web-1"));
  EXPECT_THAT(runtime_.log, ::testing::IsSupersetOf({"crash web-1", "restart web-1"}));
}

TEST_F(PodLifecycleTest, ARolloutAddsBeforeItDeletesOnePodAtATime) {
  ASSERT_TRUE(lifecycle_.CreateDeployment(spec_).ok());
  clock_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(lifecycle_.Rollout("web", 1, 0, absl::Milliseconds(50)).ok());
  clock_.Advance(absl::Seconds(5));
  EXPECT_THAT(lifecycle_.Pods("web"), ElementsAre("web-2", "web-3"));
  EXPECT_THAT(Kinds(),
              ::testing::IsSupersetOf({"web-2 created", "web-2 ready", "web-0 terminating",
                                       "web-3 created", "web-3 ready", "web-1 terminating"}));
  // Never fewer ready pods than replicas: web-0 goes only after web-2 is ready.
  std::vector<std::string> kinds = Kinds();
  auto at = [&](const std::string& k) {
    return std::find(kinds.begin(), kinds.end(), k) - kinds.begin();
  };
  EXPECT_LT(at("web-2 ready"), at("web-0 terminating"));
  EXPECT_LT(at("web-3 ready"), at("web-1 terminating"));
}

TEST_F(PodLifecycleTest, AHangPastTheReadinessProbeMakesThePodNotReadyForAWhile) {
  PodLifecycle lifecycle(&store_, &runtime_, &timeline_,
                         {.readiness_probe_detects_after = absl::Seconds(30)});
  ASSERT_TRUE(lifecycle.CreateDeployment({.name = "web", .replicas = 1}).ok());
  ASSERT_TRUE(lifecycle.Hang("web-0", absl::Seconds(60)).ok());
  clock_.Advance(absl::Seconds(29));
  EXPECT_TRUE(ReadyInApi("web-0"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(ReadyInApi("web-0"));
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(ReadyInApi("web-0"));
}

}  // namespace
}  // namespace kubegrpc::testing
