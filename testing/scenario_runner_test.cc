#include <fstream>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/html_report.h"
#include "testing/matchers.h"
#include "testing/scenario.h"

namespace kubegrpc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
    EXPECT_LT(load.LastIntervalWith(old_pod), static_cast<int>(load.timeline.size()) - 3)
        << old_pod;
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

// The live view's feed, a hang that health checks route around, and the HTML
// report of the run.
TEST(RunScenarioTest, ProgressHangAndHtmlReport) {
  Scenario s;
  s.name = "hang <&> report";
  s.deployment.replicas = 3;
  // Calls give up after 2 s: those sent to the hung pod before health checks
  // took it out fail with DEADLINE_EXCEEDED (not retried: the pod may have
  // acted on them). The checks' 1 s timeout is far more than a healthy pod
  // needs, even on a loaded machine; the hang (6 s) far more than its detection.
  s.load = {.threads = 4, .rate = 200, .retry = true, .call_timeout = absl::Seconds(2)};
  s.balancer.pool.health.mode = HealthCheckOptions::Mode::kGrpcHealth;
  s.balancer.pool.health.interval = absl::Milliseconds(100);
  s.balancer.pool.health.timeout = absl::Seconds(1);
  s.duration = absl::Seconds(9);
  s.steps = {{absl::Milliseconds(500), "hang web-1 6s"}, {absl::Seconds(1), "scale web 4"}};
  s.progress_interval = absl::Milliseconds(200);
  absl::Mutex mu;
  std::vector<ScenarioProgress> seen;
  s.progress = [&](const ScenarioProgress& p) {
    absl::MutexLock lock(&mu);
    seen.push_back(p);
  };
  absl::StatusOr<ScenarioReport> report = RunScenario(s);
  ASSERT_THAT(report, IsOk());
  std::cout << report->ToText();
  {
    absl::MutexLock lock(&mu);
    ASSERT_GE(seen.size(), 5u);
    EXPECT_EQ(seen.back().api_pods.size(), 4u);
    EXPECT_FALSE(seen.back().pool.empty());
    EXPECT_GT(seen.back().load.ok, 0);
    EXPECT_EQ(seen.back().step, "scale web 4");
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].elapsed, seen[i - 1].elapsed);
  }
  // Only the calls already sent to the hung pod fail, and only by deadline.
  EXPECT_EQ(report->load.failed, report->load.failures["DEADLINE_EXCEEDED"]);
  // Out of rotation for the second half of its hang (however long detection
  // took on this machine), while the others keep answering.
  const absl::Duration interval = report->load.interval;
  const int from = static_cast<int>(absl::Seconds(3.5) / interval);
  const int to = static_cast<int>(absl::Seconds(6.5) / interval);
  ASSERT_GT(static_cast<int>(report->load.timeline.size()), to);
  int64_t others = 0;
  for (int i = from; i < to; ++i) {
    EXPECT_EQ(report->load.timeline[i].count("web-1"), 0u) << "interval " << i;
    for (const auto& [pod, n] : report->load.timeline[i]) others += n;
  }
  EXPECT_GT(others, 0);
  bool hung = false;
  for (const ClusterEvent& e : report->events) hung |= e.kind == ClusterEvent::Kind::kHung;
  EXPECT_TRUE(hung);
  EXPECT_EQ(report->load.timeline.size(), report->load.failed_timeline.size());

  const std::string html = ScenarioHtml(s, *report);
  for (const char* id : {"id=\"calls-per-pod\"", "id=\"failures\"", "id=\"convergence\"",
                         "id=\"kube-grpc-data\"", "hang &lt;&amp;&gt; report"}) {
    EXPECT_THAT(html, HasSubstr(id));
  }
  EXPECT_THAT(html, HasSubstr("<h1>kube-grpc scenario: hang &lt;&amp;&gt; report</h1>"));
  EXPECT_THAT(html, Not(HasSubstr("<h1>kube-grpc scenario: hang <&>")));
  // The embedded data is the run's summary.
  const size_t open = html.find("id=\"kube-grpc-data\">") + 20;
  const nlohmann::json data =
      nlohmann::json::parse(html.substr(open, html.find("</script>", open) - open));
  EXPECT_EQ(data["ok"].get<int64_t>(), report->load.ok);
  int64_t sum = 0;
  for (const auto& interval : data["timeline"]) {
    for (const auto& [pod, n] : interval.items()) sum += n.get<int64_t>();
  }
  EXPECT_EQ(sum, report->load.ok);
  EXPECT_EQ(data["steps"].size(), 2u);
}

}  // namespace
}  // namespace kubegrpc::testing
