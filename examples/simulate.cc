// The kube-grpc demo, one command and no cluster:
//
//   bazel run //examples:simulate
//
// Starts a fake Kubernetes cluster in this process (fakek8s over HTTPS and real
// gRPC pod servers on loopback), sends load through a kube-grpc Balancer, and
// plays a scenario (default: examples/scenarios/demo.yaml: scale up, crash and
// restart, rolling update, API outage, scale down) while a live view shows the
// pods, their state in the API and in the pool, calls per second and failures.
// Ends with a summary and writes a self-contained HTML report with charts.
//
// With --mode=xds the same scenario runs through a standard grpc::Channel
// (xds:///web.demo:80) that gRPC's own xDS client balances, fed by kube-grpc's
// ADS server in this process (kubegrpc::xds::XdsChannels).
//
// Flags: --scenario=FILE --mode=pool|xds --duration=30s --rate=500 --threads=4 --resync=5m
//        --watch=true --health_interval=1s (0 turns health checks off) --seed=7
//        --html=FILE --summary_json=FILE --live=auto|tty|plain|off

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "testing/html_report.h"
#include "testing/scenario.h"
#include "tools/flags/usage.h"

ABSL_FLAG(std::string, scenario, "", "scenario file (YAML); default: examples/scenarios/demo.yaml");
ABSL_FLAG(std::string, mode, "",
          "override the scenario's mode: pool (a kube-grpc Balancer carries the load) or xds "
          "(a standard grpc::Channel balanced by gRPC's xDS client from kube-grpc's ADS server)");
ABSL_FLAG(std::string, duration, "", "override the scenario's duration, e.g. 30s");
ABSL_FLAG(std::string, rate, "",
          "override the load: calls per second over all threads (a positive number, or "
          "'max' for as fast as the threads go)");
ABSL_FLAG(std::string, threads, "", "override the load: caller threads (1 or more)");
ABSL_FLAG(std::string, resync, "", "override discovery's resync interval, e.g. 60s");
ABSL_FLAG(std::string, watch, "", "override: true = watch the API, false = poll every resync");
ABSL_FLAG(std::string, health_interval, "",
          "override: grpc.health.v1 checks this often (0 = off), e.g. 1s");
ABSL_FLAG(int64_t, seed, 1, "seed of the pool's and discovery's randomness");
ABSL_FLAG(std::string, html, "",
          "HTML report path (default: kube-grpc-demo.html in the "
          "directory you ran bazel from)");
ABSL_FLAG(std::string, summary_json, "", "also write the run's summary as JSON here");
ABSL_FLAG(std::string, live, "auto",
          "live view: tty (redrawn in place), plain (one line per second), off; auto = tty "
          "when stdout is a terminal, else plain");

namespace {

// Ctrl-C: the first stops the run and the report is still written; a second
// ends the process at once.
std::atomic<bool> g_stop{false};
void OnInterrupt(int) {
  if (g_stop.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

using kubegrpc::testing::ClusterEvent;
using kubegrpc::testing::ScenarioProgress;

// Paths given on the command line are relative to where the user ran `bazel run`.
std::string UserPath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  return cwd != nullptr ? absl::StrCat(cwd, "/", path) : path;
}

std::string ApiState(const std::vector<ClusterEvent>& events, const std::string& pod) {
  std::string state = "-";
  for (const ClusterEvent& e : events) {
    if (e.pod != pod) continue;
    switch (e.kind) {
      case ClusterEvent::Kind::kCreated:
        state = "starting";
        break;
      case ClusterEvent::Kind::kReady:
        state = "ready";
        break;
      case ClusterEvent::Kind::kNotReady:
        state = "not-ready";
        break;
      case ClusterEvent::Kind::kTerminating:
        state = "terminating";
        break;
      case ClusterEvent::Kind::kDeleted:
        state = "deleted";
        break;
      default:
        break;
    }
  }
  return state;
}

const char* StateName(kubegrpc::ChannelState s) {
  switch (s) {
    case kubegrpc::ChannelState::kIdle:
      return "IDLE";
    case kubegrpc::ChannelState::kConnecting:
      return "CONNECTING";
    case kubegrpc::ChannelState::kReady:
      return "READY";
    case kubegrpc::ChannelState::kTransientFailure:
      return "FAILING";
    case kubegrpc::ChannelState::kShutdown:
      return "SHUTDOWN";
  }
  return "?";
}

// Calls per second per pod over the last `n` complete intervals.
std::map<std::string, double> RecentRate(const kubegrpc::testing::LoadReport& load, int n) {
  std::map<std::string, double> out;
  const int last = static_cast<int>(load.timeline.size()) - 1;  // still filling
  const int first = std::max(0, last - n);
  if (last <= first) return out;
  for (int i = first; i < last; ++i) {
    for (const auto& [pod, calls] : load.timeline[i]) out[pod] += calls;
  }
  const double seconds = absl::ToDoubleSeconds(load.interval) * (last - first);
  for (auto& [pod, calls] : out) calls /= seconds;
  return out;
}

class LiveView {
 public:
  explicit LiveView(std::string mode) : mode_(std::move(mode)) {}

  void Show(const ScenarioProgress& p) {
    if (mode_ == "off") return;
    const std::map<std::string, double> rate = RecentRate(p.load, 5);
    if (mode_ == "plain") {
      if (p.elapsed - last_plain_ < absl::Seconds(1)) return;
      last_plain_ = p.elapsed;
      std::vector<std::string> per_pod;
      for (const auto& [pod, r] : rate) per_pod.push_back(absl::StrFormat("%s=%.0f/s", pod, r));
      std::cout << absl::StrFormat("t=%4.1fs mode=%s step=[%s] api_pods=%d ok=%d failed=%d %s\n",
                                   absl::ToDoubleSeconds(p.elapsed),
                                   kubegrpc::testing::ScenarioModeName(p.mode), p.step,
                                   p.api_pods.size(), p.load.ok, p.load.failed,
                                   absl::StrJoin(per_pod, " "))
                << std::flush;
      return;
    }
    std::ostringstream out;
    out << "\x1b[H\x1b[2J";  // home, clear
    out << absl::StrFormat("kube-grpc demo   t=%.1fs of %.0fs%s   step: %s\n",
                           absl::ToDoubleSeconds(p.elapsed), absl::ToDoubleSeconds(p.duration),
                           p.elapsed > p.duration ? " (the last step is still running)" : "",
                           p.step.empty() ? "(none yet)" : p.step);
    if (p.mode == kubegrpc::testing::ScenarioMode::kXds) {
      out << "mode: xds (gRPC's xDS client balances; its channels are not visible here)\n";
    }
    out << absl::StrFormat("discovery: %s, %d lists, %d watches, %d events, %d errors%s\n\n",
                           p.discovery.synced ? "synced" : "not synced", p.discovery.lists,
                           p.discovery.watches, p.discovery.events, p.discovery.errors,
                           p.discovery.last_error.ok()
                               ? ""
                               : absl::StrCat("  (last: ", p.discovery.last_error.message(), ")"));
    out << absl::StrFormat("%-10s %-12s %-11s %-8s %-9s %9s %9s\n", "POD", "API", "CHANNEL",
                           "HEALTH", "ROTATION", "CALLS/S", "TOTAL");
    std::vector<std::string> pods = p.api_pods;
    for (const kubegrpc::EndpointSnapshot& e : p.pool) {
      if (std::find(pods.begin(), pods.end(), e.pod_name) == pods.end()) pods.push_back(e.pod_name);
    }
    for (const std::string& pod : pods) {
      const kubegrpc::EndpointSnapshot* in_pool = nullptr;
      for (const auto& e : p.pool) {
        if (e.pod_name == pod) in_pool = &e;
      }
      auto total = p.load.by_pod.find(pod);
      auto r = rate.find(pod);
      out << absl::StrFormat("%-10s %-12s %-11s %-8s %-9s %9.0f %9d\n", pod,
                             ApiState(p.events, pod), in_pool ? StateName(in_pool->state) : "-",
                             in_pool ? (in_pool->healthy ? "ok" : "FAILING") : "-",
                             in_pool ? (in_pool->picked     ? "yes"
                                        : in_pool->draining ? "draining"
                                                            : "no")
                                     : "-",
                             r == rate.end() ? 0.0 : r->second,
                             total == p.load.by_pod.end() ? 0 : total->second);
    }
    out << absl::StrFormat("\ncalls: %d ok, %d failed", p.load.ok, p.load.failed);
    for (const auto& [code, n] : p.load.failures) out << absl::StrFormat("  %s=%d", code, n);
    out << "\n";
    std::cout << out.str() << std::flush;
  }

 private:
  const std::string mode_;
  absl::Duration last_plain_ = -absl::Seconds(10);
};

absl::StatusOr<absl::Duration> FlagDuration(const std::string& value, const char* name) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, "=", value, " is not a duration such as 500ms or 60s"));
  }
  return d;
}

absl::Status ApplyOverrides(kubegrpc::testing::Scenario& s) {
  if (std::string v = absl::GetFlag(FLAGS_mode); !v.empty()) {
    absl::StatusOr<kubegrpc::testing::ScenarioMode> mode = kubegrpc::testing::ParseScenarioMode(v);
    if (!mode.ok())
      return absl::InvalidArgumentError(absl::StrCat("--mode=", v, " is pool or xds"));
    s.mode = *mode;
  }
  if (std::string v = absl::GetFlag(FLAGS_duration); !v.empty()) {
    absl::StatusOr<absl::Duration> d = FlagDuration(v, "duration");
    if (!d.ok()) return d.status();
    // The steps run in full: a duration that ends before the last one starts
    // would not be kept.
    const kubegrpc::testing::ScenarioStep* last = nullptr;
    for (const auto& step : s.steps) {
      if (last == nullptr || step.at > last->at) last = &step;
    }
    if (last != nullptr && *d <= last->at) {
      return absl::InvalidArgumentError(
          absl::StrCat("--duration=", v, " ends before the scenario's last step (\"", last->action,
                       "\" at ", absl::FormatDuration(last->at),
                       "); give more than that, or a scenario with fewer steps"));
    }
    s.duration = *d;
  }
  if (std::string v = absl::GetFlag(FLAGS_rate); !v.empty()) {
    double rate = 0;
    if (v == "max") {
      s.load.rate = 0;  // as fast as the threads go
    } else if (absl::SimpleAtod(v, &rate) && rate > 0) {
      s.load.rate = rate;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--rate=", v, " is not a positive number of calls per second (or 'max')"));
    }
  }
  if (std::string v = absl::GetFlag(FLAGS_threads); !v.empty()) {
    int threads = 0;
    if (!absl::SimpleAtoi(v, &threads) || threads < 1) {
      return absl::InvalidArgumentError(absl::StrCat("--threads=", v, " is not 1 or more"));
    }
    s.load.threads = threads;
  }
  if (std::string v = absl::GetFlag(FLAGS_resync); !v.empty()) {
    absl::StatusOr<absl::Duration> d = FlagDuration(v, "resync");
    if (!d.ok()) return d.status();
    s.balancer.discovery.resync_interval = *d;
  }
  if (std::string v = absl::GetFlag(FLAGS_watch); !v.empty()) {
    if (v != "true" && v != "false") return absl::InvalidArgumentError("--watch is true or false");
    s.balancer.discovery.watch = v == "true";
  }
  if (std::string v = absl::GetFlag(FLAGS_health_interval); !v.empty()) {
    absl::StatusOr<absl::Duration> d = FlagDuration(v, "health_interval");
    if (!d.ok()) return d.status();
    if (*d == absl::ZeroDuration()) {
      s.balancer.pool.health.mode = kubegrpc::HealthCheckOptions::Mode::kNone;
    } else {
      s.balancer.pool.health.mode = kubegrpc::HealthCheckOptions::Mode::kGrpcHealth;
      s.balancer.pool.health.interval = *d;
    }
  }
  const uint64_t seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  s.balancer.pool.seed = seed;
  s.balancer.discovery.seed = seed;
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  kubegrpc::tools::ParseFlags(
      argc, argv,
      "simulate: the kube-grpc demo. A fake cluster, load through a Balancer (or an xDS "
      "channel: --mode=xds), a scenario of "
      "scaling, crashes, a rollout and an API outage, a live view and an HTML report.\n"
      "  bazel run //examples:simulate -- [--scenario=FILE] [flags]");
  std::string path = absl::GetFlag(FLAGS_scenario);
  path = path.empty() ? "examples/scenarios/demo.yaml" : UserPath(path);
  absl::StatusOr<kubegrpc::testing::Scenario> scenario = kubegrpc::testing::LoadScenario(path);
  if (!scenario.ok()) {
    std::cerr << "simulate: " << scenario.status().message() << "\n";
    return 2;
  }
  if (absl::Status s = ApplyOverrides(*scenario); !s.ok()) {
    std::cerr << "simulate: " << s.message() << "\n";
    return 2;
  }
  std::string live = absl::GetFlag(FLAGS_live);
  if (live == "auto") live = isatty(STDOUT_FILENO) ? "tty" : "plain";
  if (live != "tty" && live != "plain" && live != "off") {
    std::cerr << "simulate: --live is auto, tty, plain or off\n";
    return 2;
  }
  LiveView view(live);
  scenario->progress = [&view](const ScenarioProgress& p) { view.Show(p); };
  scenario->progress_interval = absl::Milliseconds(live == "tty" ? 250 : 200);

  std::cout << "kube-grpc demo: scenario " << scenario->name << " from " << path << ", "
            << absl::FormatDuration(scenario->duration) << ", mode "
            << kubegrpc::testing::ScenarioModeName(scenario->mode) << "\n"
            << std::flush;
  scenario->stop = &g_stop;
  std::signal(SIGINT, OnInterrupt);
  absl::StatusOr<kubegrpc::testing::ScenarioReport> report = RunScenario(*scenario);
  if (!report.ok()) {
    std::cerr << "simulate: " << report.status() << "\n";
    return 1;
  }
  if (report->stopped_early)
    std::cout << "\nsimulate: interrupted; the report covers the run so far\n";
  std::cout << "\n== Summary ==\n" << report->ToText();

  std::string html = absl::GetFlag(FLAGS_html);
  if (html.empty()) {
    const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
    html = cwd != nullptr ? absl::StrCat(cwd, "/kube-grpc-demo.html") : "kube-grpc-demo.html";
  } else {
    html = UserPath(html);
  }
  std::ofstream(html) << kubegrpc::testing::ScenarioHtml(*scenario, *report);
  std::cout << "HTML report: " << html << "\n";
  if (std::string json = absl::GetFlag(FLAGS_summary_json); !json.empty()) {
    std::ofstream(UserPath(json))
        << kubegrpc::testing::ScenarioSummaryJson(*scenario, *report).dump(2) << "\n";
  }
  return 0;
}
