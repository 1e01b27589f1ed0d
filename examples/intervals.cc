// Refresh-interval validation: plays one scenario under several discovery,
// health-check and outlier-ejection settings, compares what each costs, and
// says which it would choose for the scenario and why. It runs kube-grpc's real
// discovery and pool logic on virtual time (testing/simulation.h), so minutes
// of scenario and the original's 60 s / 1 s intervals take well under a second,
// and the same seed gives the same table every time.
//
//   bazel run //examples:intervals
//   bazel run //examples:intervals -- --scenario=my.yaml
//   bazel run //examples:intervals -- --settings="ejection=off; policy=least_request"
//
// For each setting: failed calls (no pod, a failing channel, or a pod that could
// not answer: crashed, gone or hung; the simulation does not retry), calls to
// pods the API no longer reported ready, how long each new pod waited for its
// first call, and the API requests made. Prints a table and writes an HTML
// report with a chart per measure.

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "testing/html_report.h"
#include "testing/scenario.h"
#include "testing/simulation.h"
#include "tools/flags/usage.h"

ABSL_FLAG(std::string, scenario, "",
          "scenario file (YAML); default: examples/scenarios/intervals.yaml");
ABSL_FLAG(
    std::string, settings, "",
    "settings to compare, ';'-separated, each a ','-separated list of watch=true|false, "
    "resync=<duration>, health=<duration> (0s = no health checks), ejection=on|off (passive "
    "outlier ejection, on by default), policy=round_robin|least_request (the simulation's calls "
    "take no time, so least-request shows its spread here, not its avoidance of slow pods: "
    "kube_bench --section=least_request measures that), name=<label>; "
    "default: kube-grpc's default, with health checks, polling, and the original's 60 s / 1 s");
ABSL_FLAG(int64_t, seed, 1, "simulation seed");
ABSL_FLAG(std::string, html, "",
          "HTML report path (default: kube-grpc-intervals.html in the "
          "directory you ran bazel from)");
ABSL_FLAG(std::string, json, "", "also write the results as JSON here");

namespace {

using json = nlohmann::json;

struct Setting {
  std::string name;
  bool watch = true;
  absl::Duration resync = absl::Minutes(5);
  absl::Duration health = absl::ZeroDuration();  // 0: off
  bool ejection = true;                          // passive outlier ejection (the pool's default)
  kubegrpc::PickPolicy policy = kubegrpc::PickPolicy::kRoundRobin;
};

const char* kDefaultSettings =
    "name=watch (kube-grpc default);"
    "name=watch without ejection,ejection=off;"
    "name=watch + health 1s,health=1s;"
    "name=watch + health 5s,health=5s;"
    "name=poll 10s + health 1s,watch=false,resync=10s,health=1s;"
    "name=poll 60s + ping 1s (the original),watch=false,resync=60s,health=1s;"
    "name=poll 60s,watch=false,resync=60s";

std::string UserPath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  return cwd != nullptr ? absl::StrCat(cwd, "/", path) : path;
}

absl::StatusOr<std::vector<Setting>> ParseSettings(const std::string& text) {
  std::vector<Setting> out;
  for (absl::string_view entry : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    Setting s;
    bool named = false;
    for (absl::string_view field : absl::StrSplit(entry, ',', absl::SkipWhitespace())) {
      std::vector<std::string> kv = absl::StrSplit(absl::StripAsciiWhitespace(field), '=');
      if (kv.size() != 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("--settings: \"", field, "\" is not key=value"));
      }
      const std::string& key = kv[0];
      const std::string& value = kv[1];
      absl::Duration d;
      if (key == "name") {
        s.name = value;
        named = true;
      } else if (key == "watch" && (value == "true" || value == "false")) {
        s.watch = value == "true";
      } else if (key == "ejection" && (value == "on" || value == "off")) {
        s.ejection = value == "on";
      } else if (key == "policy" && (value == "round_robin" || value == "least_request")) {
        s.policy = value == "least_request" ? kubegrpc::PickPolicy::kLeastRequest
                                            : kubegrpc::PickPolicy::kRoundRobin;
      } else if ((key == "resync" || key == "health") && absl::ParseDuration(value, &d) &&
                 d >= absl::ZeroDuration()) {
        if (key == "resync" && d == absl::ZeroDuration()) {
          return absl::InvalidArgumentError("--settings: resync must be more than 0");
        }
        (key == "resync" ? s.resync : s.health) = d;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--settings: bad \"", field,
                         "\" (watch=true|false, resync=60s, health=1s, ejection=on|off, "
                         "policy=round_robin|least_request, name=...)"));
      }
    }
    if (!named) {
      s.name =
          absl::StrCat(s.watch ? "watch" : "poll",
                       s.watch ? "" : absl::StrCat(" ", absl::FormatDuration(s.resync)),
                       s.health > absl::ZeroDuration()
                           ? absl::StrCat(" + health ", absl::FormatDuration(s.health))
                           : "",
                       s.ejection ? "" : " without ejection",
                       s.policy == kubegrpc::PickPolicy::kLeastRequest ? " least-request" : "");
    }
    out.push_back(s);
  }
  if (out.empty()) return absl::InvalidArgumentError("--settings: no setting given");
  return out;
}

struct Row {
  Setting setting;
  kubegrpc::testing::SimulationResult result;
  double first_use_median_s = 0, first_use_max_s = 0;
};

double Median(std::vector<absl::Duration> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return absl::ToDoubleSeconds(v[v.size() / 2]);
}
double Max(const std::vector<absl::Duration>& v) {
  return v.empty() ? 0 : absl::ToDoubleSeconds(*std::max_element(v.begin(), v.end()));
}

}  // namespace

// Which setting to run for this scenario, and why: the fewest failed calls;
// among those within 1 % of the fewest (or 10 calls), the fewest calls to gone
// pods, then the least load (health-check calls, then API requests).
std::string Choose(const std::vector<Row>& rows, absl::Duration duration) {
  if (rows.empty()) return "";
  int64_t fewest = rows[0].result.load.failed;
  for (const Row& r : rows) fewest = std::min<int64_t>(fewest, r.result.load.failed);
  const int64_t slack = std::max<int64_t>(10, fewest / 100);
  auto api = [](const Row& r) {
    return r.result.api_gets + r.result.api_lists + r.result.api_watches;
  };
  const Row* best = nullptr;
  for (const Row& r : rows) {
    if (r.result.load.failed > fewest + slack) continue;
    auto key = [&](const Row& x) {
      return std::make_tuple(x.result.calls_to_gone_pods, x.result.health_checks, api(x),
                             x.result.load.failed);
    };
    if (best == nullptr || key(r) < key(*best)) best = &r;
  }
  int near = 0;
  for (const Row& r : rows) near += r.result.load.failed <= fewest + slack ? 1 : 0;
  std::string why = absl::StrCat(best->result.load.failed, " failed calls");
  if (near > 1) {
    absl::StrAppend(&why, ", within ", slack, " of the fewest (", fewest, "), and of those ", near,
                    " the fewest calls to gone pods (", best->result.calls_to_gone_pods,
                    ") at the least cost (",
                    absl::StrFormat("%.1f", best->result.health_checks /
                                                std::max(1e-9, absl::ToDoubleSeconds(duration))),
                    " health-check calls/s, ", api(*best), " API requests)");
  } else {
    absl::StrAppend(&why, ", the fewest");
  }
  return absl::StrCat("Choice for this scenario: \"", best->setting.name, "\": ", why, ".");
}

int main(int argc, char** argv) {
  kubegrpc::tools::ParseFlags(
      argc, argv,
      "intervals: one scenario on virtual time under several discovery and health-check "
      "settings, and what each costs.\n"
      "  bazel run //examples:intervals -- [--scenario=FILE] [--settings=...]");
  std::string path = absl::GetFlag(FLAGS_scenario);
  path = path.empty() ? "examples/scenarios/intervals.yaml" : UserPath(path);
  absl::StatusOr<kubegrpc::testing::Scenario> scenario = kubegrpc::testing::LoadScenario(path);
  if (!scenario.ok()) {
    std::cerr << "intervals: " << scenario.status().message() << "\n";
    return 2;
  }
  std::string settings_text = absl::GetFlag(FLAGS_settings);
  absl::StatusOr<std::vector<Setting>> settings =
      ParseSettings(settings_text.empty() ? kDefaultSettings : settings_text);
  if (!settings.ok()) {
    std::cerr << "intervals: " << settings.status().message() << "\n";
    return 2;
  }
  kubegrpc::testing::SimulationOptions sim;
  sim.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));

  std::vector<Row> rows;
  for (const Setting& setting : *settings) {
    kubegrpc::testing::Scenario s = *scenario;
    s.balancer.discovery.watch = setting.watch;
    s.balancer.discovery.resync_interval = setting.resync;
    s.balancer.pool.outlier_detection.enabled = setting.ejection;
    s.balancer.pool.policy = setting.policy;
    if (setting.health > absl::ZeroDuration()) {
      s.balancer.pool.health.mode = kubegrpc::HealthCheckOptions::Mode::kGrpcHealth;
      s.balancer.pool.health.interval = setting.health;
    } else {
      s.balancer.pool.health.mode = kubegrpc::HealthCheckOptions::Mode::kNone;
    }
    absl::StatusOr<kubegrpc::testing::SimulationResult> r = kubegrpc::testing::Simulate(s, sim);
    if (!r.ok()) {
      std::cerr << "intervals: " << setting.name << ": " << r.status() << "\n";
      return 1;
    }
    Row row{setting, *std::move(r)};
    row.first_use_median_s = Median(row.result.new_pod_first_use);
    row.first_use_max_s = Max(row.result.new_pod_first_use);
    rows.push_back(std::move(row));
  }

  const int64_t calls = rows.empty() ? 0 : rows[0].result.load.ok + rows[0].result.load.failed;
  std::cout << absl::StrFormat("scenario %s (%s, %d calls at %.0f/s, virtual time), seed %d\n\n",
                               scenario->name, absl::FormatDuration(scenario->duration), calls,
                               sim.picks_per_tick / absl::ToDoubleSeconds(sim.tick), sim.seed);
  std::cout << absl::StrFormat("%-34s %8s %10s %22s %14s %12s\n", "setting", "failed", "to gone",
                               "new pod used after", "API requests", "health RPCs");
  std::cout << absl::StrFormat("%-34s %8s %10s %22s %14s %12s\n", "", "calls", "pods",
                               "median / max (s)", "get/list/watch", "per second");
  json data = {{"scenario", scenario->name},
               {"duration_s", absl::ToDoubleSeconds(scenario->duration)},
               {"calls", calls},
               {"seed", sim.seed},
               {"rows", json::array()}};
  for (const Row& r : rows) {
    const auto& res = r.result;
    const double health_rate =
        res.health_checks / std::max(1e-9, absl::ToDoubleSeconds(scenario->duration));
    std::cout << absl::StrFormat(
        "%-34s %8d %10d %10.2f / %-9.2f %6d/%d/%-5d %12.1f%s\n", r.setting.name, res.load.failed,
        res.calls_to_gone_pods, r.first_use_median_s, r.first_use_max_s, res.api_gets,
        res.api_lists, res.api_watches, health_rate,
        res.new_pods_never_used > 0
            ? absl::StrCat("  (", res.new_pods_never_used, " new pods never used)")
            : "");
    data["rows"].push_back(
        {{"setting", r.setting.name},
         {"watch", r.setting.watch},
         {"resync_s", absl::ToDoubleSeconds(r.setting.resync)},
         {"health_s", absl::ToDoubleSeconds(r.setting.health)},
         {"ejection", r.setting.ejection},
         {"policy", r.setting.policy == kubegrpc::PickPolicy::kLeastRequest ? "least_request"
                                                                            : "round_robin"},
         {"failed", res.load.failed},
         {"calls_to_gone_pods", res.calls_to_gone_pods},
         {"new_pod_first_use_median_s", r.first_use_median_s},
         {"new_pod_first_use_max_s", r.first_use_max_s},
         {"new_pods_never_used", res.new_pods_never_used},
         {"api_gets", res.api_gets},
         {"api_lists", res.api_lists},
         {"api_watches", res.api_watches},
         {"health_rpcs_per_s", health_rate}});
  }
  std::cout << "\nFailed calls would be retried by the retry helper (idempotent calls) when the\n"
               "pod is gone; calls to a hung pod wait for their deadline. Times have a\n"
               "resolution of one tick ("
            << absl::FormatDuration(sim.tick) << ").\n";
  const std::string choice = Choose(rows, scenario->duration);
  data["choice"] = choice;
  std::cout << "\n" << choice << "\n";

  // HTML: one chart per measure.
  auto bars = [&](const char* key) {
    std::vector<std::pair<std::string, double>> out;
    for (const json& r : data["rows"])
      out.push_back({r["setting"].get<std::string>(), r[key].get<double>()});
    return out;
  };
  std::vector<std::pair<std::string, double>> requests;
  for (const json& r : data["rows"]) {
    requests.push_back(
        {r["setting"].get<std::string>(),
         static_cast<double>(r["api_gets"].get<int64_t>() + r["api_lists"].get<int64_t>() +
                             r["api_watches"].get<int64_t>())});
  }
  using kubegrpc::testing::HtmlEscape;
  using kubegrpc::testing::SvgBarChart;
  std::string body = absl::StrCat(
      "<h1>kube-grpc refresh intervals: ", HtmlEscape(scenario->name), "</h1>\n<p>",
      absl::FormatDuration(scenario->duration), " of the scenario <code>", HtmlEscape(path),
      "</code> on virtual time, ", calls, " calls, seed ", sim.seed,
      ", under each setting. Failed calls: no pod, a failing channel, or a pod that could not "
      "answer (the simulation does not retry). Calls to gone pods: picks of pods the API no "
      "longer reported ready.</p>\n");
  absl::StrAppend(&body, SvgBarChart("failed", "Failed calls", "calls", bars("failed")));
  absl::StrAppend(&body, SvgBarChart("to-gone", "Calls to pods the API no longer reported ready",
                                     "calls", bars("calls_to_gone_pods")));
  absl::StrAppend(&body, SvgBarChart("first-use", "Longest wait of a new pod for its first call",
                                     "s", bars("new_pod_first_use_max_s")));
  absl::StrAppend(&body, SvgBarChart("api-requests", "API requests (get + list + watch streams)",
                                     "requests", requests));
  absl::StrAppend(&body, SvgBarChart("health-cost", "Health-check calls per second (all pods)",
                                     "calls/s", bars("health_rpcs_per_s")));
  absl::StrAppend(&body,
                  "<table id=\"results\">\n<tr><th>setting</th><th>failed</th><th>to gone pods</th>"
                  "<th>new pod used after, median / max</th><th>API get/list/watch</th>"
                  "<th>health-check calls/s</th></tr>\n");
  for (const json& r : data["rows"]) {
    absl::StrAppend(
        &body, "<tr><td>", HtmlEscape(r["setting"].get<std::string>()), "</td><td>",
        r["failed"].get<int64_t>(), "</td><td>", r["calls_to_gone_pods"].get<int64_t>(),
        "</td><td>",
        absl::StrFormat("%.2f s / %.2f s", r["new_pod_first_use_median_s"].get<double>(),
                        r["new_pod_first_use_max_s"].get<double>()),
        "</td><td>", r["api_gets"].get<int64_t>(), "/", r["api_lists"].get<int64_t>(), "/",
        r["api_watches"].get<int64_t>(), "</td><td>",
        absl::StrFormat("%.1f", r["health_rpcs_per_s"].get<double>()), "</td></tr>\n");
  }
  absl::StrAppend(&body, "</table>\n<p id=\"choice\">", HtmlEscape(choice), "</p>\n");
  std::string html = absl::GetFlag(FLAGS_html);
  if (html.empty()) {
    const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
    html = cwd != nullptr ? absl::StrCat(cwd, "/kube-grpc-intervals.html")
                          : "kube-grpc-intervals.html";
  } else {
    html = UserPath(html);
  }
  std::ofstream(html) << kubegrpc::testing::HtmlPage(
      absl::StrCat("kube-grpc refresh intervals: ", scenario->name), body, data);
  std::cout << "HTML report: " << html << "\n";
  if (std::string out = absl::GetFlag(FLAGS_json); !out.empty()) {
    std::ofstream(UserPath(out)) << data.dump(2) << "\n";
  }
  return 0;
}
