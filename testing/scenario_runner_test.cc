#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"
#include "testing/scenario.h"

namespace kubegrpc::testing {
namespace {

using ::testing::HasSubstr;

TEST(ParseScenarioTest, ReadsEverythingAndSortsSteps) {
  absl::StatusOr<Scenario> s = ParseScenario(R"(
name: x
duration: 4s
deployment: {name: api, namespace: prod, replicas: 2, port: 443, readiness_delay: 50ms}
load: {threads: 3, rate: 100, retry: false}
balancer: {resync: 30s, watch: false, health: grpc, health_interval: 1s}
steps:
  - {at: 2s, do: scale api 4}
  - {at: 500ms, do: crash api-0 1s}
)");
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->name, "x");
  EXPECT_EQ(s->duration, absl::Seconds(4));
  EXPECT_EQ(s->deployment.ns, "prod");
  EXPECT_EQ(s->deployment.service_port, 443);
  EXPECT_EQ(s->deployment.readiness_delay, absl::Milliseconds(50));
  EXPECT_EQ(s->load.threads, 3);
  EXPECT_FALSE(s->load.retry);
  EXPECT_EQ(s->balancer.discovery.resync_interval, absl::Seconds(30));
  EXPECT_FALSE(s->balancer.discovery.watch);
  EXPECT_EQ(s->balancer.pool.health.mode, HealthCheckOptions::Mode::kGrpcHealth);
  ASSERT_EQ(s->steps.size(), 2u);
  EXPECT_EQ(s->steps[0].action, "crash api-0 1s");
}

TEST(ParseScenarioTest, MalformedScenariosAreClearErrors) {
  for (const char* bad : {"[1, 2]", "duration: soon", "steps: {at: 1s}", "steps: [{at: 1s}]",
                          "steps: [{do: scale web 2}]", "load: {threads: 0}",
                          "balancer: {health: maybe}", "deployment: {replicas: lots}", "a: [b"}) {
    absl::StatusOr<Scenario> s = ParseScenario(bad);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("scenario:")) << bad;
  }
}

TEST(RunScenarioTest, TheExampleScenarioRunsWithoutFailedCalls) {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) + "/" + std::getenv("TEST_WORKSPACE") +
                   "/testing/scenarios/scale_crash_rollout.yaml");
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Scenario> scenario = ParseScenario(text.str());
  ASSERT_THAT(scenario, IsOk());
  absl::StatusOr<ScenarioReport> report = RunScenario(*scenario);
  ASSERT_THAT(report, IsOk());
  std::cout << report->ToText();
  EXPECT_EQ(report->load.failed, 0);
  EXPECT_GT(report->load.ok, 500);
  ASSERT_EQ(report->steps.size(), 4u);
  for (const StepResult& step : report->steps) {
    EXPECT_LT(step.converged_after, absl::Seconds(30)) << step.step.action;
  }
  // After the rollout only the new pods answer.
  const LoadReport& load = report->load;
  for (const char* old_pod : {"web-0", "web-1", "web-2", "web-3", "web-4"}) {
    EXPECT_LT(load.LastIntervalWith(old_pod), static_cast<int>(load.timeline.size()) - 3) << old_pod;
  }
  EXPECT_GT(load.by_pod.at("web-9"), 0);
}

TEST(RunScenarioTest, AStepThatCannotApplyIsAnError) {
  Scenario s;
  s.deployment.replicas = 1;
  s.duration = absl::Seconds(1);
  s.steps = {{absl::Milliseconds(100), "crash web-7 1s"}};
  EXPECT_THAT(RunScenario(s), StatusIs(absl::StatusCode::kNotFound));
  s.steps = {{absl::Milliseconds(100), "explode web-0"}};
  EXPECT_THAT(RunScenario(s), StatusIs(absl::StatusCode::kInvalidArgument));
  // Files are checked when parsed.
  EXPECT_THAT(ParseScenario("steps: [{at: 1s, do: scale web many}]"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseStepAction("ready web-0 maybe"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace kubegrpc::testing
