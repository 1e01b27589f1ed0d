// Runs a scenario file against a fake cluster and prints its report.
//
//   bazel run //testing:run_scenario -- --scenario=testing/scenarios/scale_crash_rollout.yaml
//   ... --mode=xds    the same through an xDS channel (gRPC's own balancing)
//
// A relative --scenario is taken from the directory bazel was run in. Exit
// codes: 0 no call failed, 1 some did (or the run failed), 2 bad usage.

#include <iostream>

#include "absl/flags/flag.h"
#include "testing/scenario.h"
#include "tools/flags/usage.h"

ABSL_FLAG(std::string, scenario, "", "the scenario file (YAML); required");
ABSL_FLAG(std::string, mode, "", "override the scenario's mode: pool or xds");

int main(int argc, char** argv) {
  kubegrpc::tools::ParseFlags(
      argc, argv,
      "run_scenario: plays a scenario (a Deployment, a load, timed steps) against a fake "
      "cluster and prints what happened.\n"
      "  bazel run //testing:run_scenario -- --scenario=FILE.yaml");
  const std::string path = kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_scenario));
  if (path.empty()) {
    std::cerr << "run_scenario: --scenario=FILE is required (e.g. "
                 "--scenario=testing/scenarios/scale_crash_rollout.yaml)\n";
    return 2;
  }
  absl::StatusOr<kubegrpc::testing::Scenario> scenario = kubegrpc::testing::LoadScenario(path);
  if (!scenario.ok()) {
    std::cerr << "run_scenario: " << scenario.status().message() << "\n";
    return 2;
  }
  if (const std::string mode = absl::GetFlag(FLAGS_mode); !mode.empty()) {
    absl::StatusOr<kubegrpc::testing::ScenarioMode> parsed =
        kubegrpc::testing::ParseScenarioMode(mode);
    if (!parsed.ok()) {
      std::cerr << "run_scenario: --mode=" << mode << " is pool or xds\n";
      return 2;
    }
    scenario->mode = *parsed;
  }
  absl::StatusOr<kubegrpc::testing::ScenarioReport> report = RunScenario(*scenario);
  if (!report.ok()) {
    std::cerr << "run_scenario: " << report.status() << "\n";
    return 1;
  }
  std::cout << report->ToText();
  return report->load.failed == 0 ? 0 : 1;
}
