// Runs a scenario file against a fake cluster and prints its report.
//
//   bazel run //testing:run_scenario -- --scenario=$PWD/testing/scenarios/scale_crash_rollout.yaml

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "testing/scenario.h"

ABSL_FLAG(std::string, scenario, "", "the scenario file (YAML)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<kubegrpc::testing::Scenario> scenario =
      kubegrpc::testing::LoadScenario(absl::GetFlag(FLAGS_scenario));
  if (!scenario.ok()) {
    std::cerr << "run_scenario: " << scenario.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<kubegrpc::testing::ScenarioReport> report = RunScenario(*scenario);
  if (!report.ok()) {
    std::cerr << report.status() << "\n";
    return 1;
  }
  std::cout << report->ToText();
  return report->load.failed == 0 ? 0 : 1;
}
