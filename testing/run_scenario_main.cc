// Runs a scenario file against a fake cluster and prints its report.
//
//   bazel run //testing:run_scenario -- --scenario=$PWD/testing/scenarios/scale_crash_rollout.yaml

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "testing/scenario.h"

ABSL_FLAG(std::string, scenario, "", "the scenario file (YAML)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::ifstream in(absl::GetFlag(FLAGS_scenario));
  if (!in) {
    std::cerr << "run_scenario: cannot read --scenario=" << absl::GetFlag(FLAGS_scenario) << "\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<kubegrpc::testing::Scenario> scenario =
      kubegrpc::testing::ParseScenario(text.str());
  if (!scenario.ok()) {
    std::cerr << scenario.status() << "\n";
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
