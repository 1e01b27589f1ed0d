// The benchmark report: runs every measurement in one go (pick overhead with
// Google Benchmark, then each kube_bench section in its own process) and writes
// a Markdown report with the machine, the command line, tables of this run's
// figures and each target marked met or not.
//
//   bazel run -c opt //tools/bench:report                 # docs/BENCHMARKS.md
//   bazel run -c opt //tools/bench:report -- --out=/tmp/r.md
//   bazel run //tools/bench:report -- --quick --out=...    # CI: everything still runs
//
// A section that fails is reported as failed (with its error output) and the
// process exits 1 after writing the report.

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "testing/subprocess.h"

ABSL_FLAG(bool, quick, false, "a few trials per section (CI: the benchmarks still run)");
ABSL_FLAG(std::string, out, "",
          "the Markdown report (default: docs/BENCHMARKS.md of the workspace under "
          "`bazel run`, else ./BENCHMARKS.md)");
ABSL_FLAG(std::string, json_out, "", "also write every section's raw JSON here");
ABSL_FLAG(std::string, pick_bench, "", "path of pick_bench (default: from runfiles)");
ABSL_FLAG(std::string, kube_bench, "", "path of kube_bench (default: from runfiles)");

namespace {

using json = nlohmann::json;
using kubegrpc::testing::Subprocess;

std::string Runfile(const char* argv0, const std::string& name) {
  std::vector<std::string> roots;
  if (const char* dir = std::getenv("RUNFILES_DIR")) roots.push_back(dir);
  if (const char* dir = std::getenv("TEST_SRCDIR")) roots.push_back(dir);
  roots.push_back(absl::StrCat(argv0, ".runfiles"));
  for (const std::string& root : roots) {
    std::string path = absl::StrCat(root, "/kube_grpc/tools/bench/", name);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  // Next to this binary (bazel-bin/tools/bench/).
  std::string self(argv0);
  return self.substr(0, self.rfind('/') + 1) + name;
}

std::string FirstLine(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, key)) {
      std::string value = line.substr(line.find(':') + 1);
      return std::string(absl::StripAsciiWhitespace(value));
    }
  }
  return "unknown";
}

std::string Machine() {
  struct utsname u;
  uname(&u);
  std::string mem = FirstLine("/proc/meminfo", "MemTotal");
  return absl::StrCat("- CPU: ", FirstLine("/proc/cpuinfo", "model name"), ", ",
                      sysconf(_SC_NPROCESSORS_ONLN), " online\n", "- Memory: ", mem, "\n",
                      "- Kernel: ", u.sysname, " ", u.release, " ", u.machine, "\n",
                      "- Compiler: ", __VERSION__,
#if defined(__OPTIMIZE__) && defined(NDEBUG)
                      " (optimized, NDEBUG: -c opt)"
#elif defined(__OPTIMIZE__)
                      " (optimized)"
#else
                      " (NOT optimized: fastbuild or dbg; run with -c opt for real figures)"
#endif
                      ,
                      "\n");
}

struct Section {
  std::string title;
  std::vector<std::string> argv;
  json result;
  bool ok = false;
  std::string error;
};

std::string Fixed(double v, int digits = 1) { return absl::StrFormat("%.*f", digits, v); }
std::string Met(bool met) { return met ? "**met**" : "**not met**"; }

class Report {
 public:
  void Add(const std::string& s) { md_ << s; }
  std::string str() const { return md_.str(); }

 private:
  std::ostringstream md_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  (void)rest;
  const bool quick = absl::GetFlag(FLAGS_quick);
  std::string pick_bench = absl::GetFlag(FLAGS_pick_bench);
  if (pick_bench.empty()) pick_bench = Runfile(argv[0], "pick_bench");
  std::string kube_bench = absl::GetFlag(FLAGS_kube_bench);
  if (kube_bench.empty()) kube_bench = Runfile(argv[0], "kube_bench");
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    out = ws != nullptr ? absl::StrCat(ws, "/docs/BENCHMARKS.md") : "BENCHMARKS.md";
  }
  char tmpl[] = "/tmp/kube-bench-XXXXXX";
  const std::string tmp = mkdtemp(tmpl) != nullptr ? tmpl : "/tmp";
  const absl::Time started = absl::Now();

  std::vector<std::string> q =
      quick ? std::vector<std::string>{"--quick"} : std::vector<std::string>{};
  auto kb = [&](std::vector<std::string> args) {
    std::vector<std::string> v = {kube_bench};
    v.insert(v.end(), args.begin(), args.end());
    v.insert(v.end(), q.begin(), q.end());
    return v;
  };
  std::vector<Section> sections = {
      {"pick",
       {pick_bench, "--benchmark_format=json",
        quick ? "--benchmark_min_time=0.002" : "--benchmark_min_time=0.3",
        // Three repetitions, reported as their median: one noisy repetition on a
        // 2-core machine must not decide a verdict.
        quick ? "--benchmark_repetitions=1" : "--benchmark_repetitions=3",
        "--benchmark_report_aggregates_only=" + std::string(quick ? "false" : "true"),
        quick ? "--benchmark_filter=(BM_BalancerNext/10|BM_OriginalDesignPick/10|"
                "BM_SharedPtrChannelCopy)/real_time/threads:(1|2|8)$"
              : "--benchmark_filter=."}},
      {"throughput", kb({"--section=throughput"})},
      {"least_request", kb({"--section=least_request"})},
      {"convergence_watch", kb({"--section=convergence", "--mode=watch"})},
      {"convergence_poll", kb({"--section=convergence", "--mode=poll"})},
      {"convergence_xds", kb({"--section=convergence", "--mode=xds"})},
      {"churn_retry", kb({"--section=churn", "--retry=true"})},
      {"churn_plain", kb({"--section=churn", "--retry=false"})},
      {"churn_xds", kb({"--section=churn", "--mode=xds", "--retry=true"})},
      {"scale", kb({"--section=scale"})},
      {"shutdown", kb({"--section=shutdown"})},
      {"api_requests", kb({"--section=api_requests"})},
      {"memory_pool", kb({"--section=memory", "--mode=pool"})},
      {"memory_bare", kb({"--section=memory", "--mode=bare"})},
      {"fanout", kb({"--section=fanout"})},
  };
  bool all_ok = true;
  json raw = json::object();
  for (Section& s : sections) {
    const std::string file = absl::StrCat(tmp, "/", s.title, ".json");
    std::vector<std::string> argv_out = s.argv;
    if (s.title == "pick") {
      argv_out.push_back("--benchmark_out=" + file);
      argv_out.push_back("--benchmark_out_format=json");
    } else {
      argv_out.push_back("--out=" + file);
    }
    std::cerr << "report: running " << s.title << " ..." << std::endl;
    const absl::Time t0 = absl::Now();
    Subprocess::Result r = Subprocess::Run(argv_out, {}, absl::Minutes(20));
    std::ifstream in(file);
    if (r.exit_code == 0 && in) {
      s.result = json::parse(in, nullptr, /*allow_exceptions=*/false);
      s.ok = !s.result.is_discarded();
    }
    if (!s.ok) {
      s.error = absl::StrCat("exit code ", r.exit_code, "; output:\n", r.output);
      all_ok = false;
      std::cerr << "report: " << s.title << " FAILED\n" << r.output << std::endl;
    } else {
      std::cerr << "report: " << s.title << " done in "
                << absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Milliseconds(100)))
                << std::endl;
    }
    raw[s.title] = s.result;
  }
  auto get = [&](const std::string& title) -> const Section& {
    for (const Section& s : sections) {
      if (s.title == title) return s;
    }
    return sections[0];
  };

  Report md;
  md.Add("# kube-grpc benchmark report\n\n");
  md.Add(absl::StrCat("Generated ",
                      absl::FormatTime("%Y-%m-%d %H:%M UTC", started, absl::UTCTimeZone()), " in ",
                      absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Seconds(1))),
                      " by one run of:\n\n```\nbazel run -c opt //tools/bench:report",
                      quick ? " -- --quick" : "", "\n```\n\n"));
  if (quick) {
    md.Add(
        "> **Quick mode**: a few trials per section, to check that the benchmarks run. "
        "These figures are not measurements.\n\n");
  }
  md.Add(
      "Every figure below comes from this run. Everything runs on loopback in one machine: "
      "fakek8s (HTTPS), real gRPC pod servers (FakePod) and the real `Balancer`. "
      "Machines are noisy; compare the rows of one table (measured side by side), not "
      "absolute times across machines.\n\n## Machine\n\n");
  md.Add(Machine());
  md.Add("\n");

  // ---- Targets --------------------------------------------------------------------
  std::vector<std::vector<std::string>> targets;  // target, measured, verdict

  // ---- Pick ------------------------------------------------------------------------
  md.Add("## 1. Pick overhead\n\n");
  const Section& pick = get("pick");
  // name -> threads -> (ns per op, ops per second total)
  std::map<std::string, std::map<int, std::pair<double, double>>> picks;
  if (pick.ok) {
    for (const json& b : pick.result["benchmarks"]) {
      if (b.value("run_type", "iteration") == "aggregate" &&
          b.value("aggregate_name", "") != "median") {
        continue;
      }
      std::string name = b.value("name", "");
      if (absl::EndsWith(name, "_median")) name.resize(name.size() - 7);
      // "BM_BalancerNext/10/real_time/threads:8"
      std::vector<std::string> parts = absl::StrSplit(name, '/');
      int threads = b.value("threads", 1);
      std::string key = parts[0];
      if (parts.size() > 1 && !absl::StartsWith(parts[1], "real_time") &&
          !absl::StartsWith(parts[1], "threads")) {
        key = absl::StrCat(parts[0], "/", parts[1]);
      }
      double ns = b.value("real_time", 0.0);
      const std::string unit = b.value("time_unit", "ns");
      if (unit == "us") ns *= 1e3;
      if (unit == "ms") ns *= 1e6;
      picks[key][threads] = {ns, b.value("items_per_second", 0.0)};
    }
    md.Add(
        "Median of three repetitions. Wall-clock nanoseconds per pick over all threads (Google "
        "Benchmark real time: the "
        "inverse of the total pick rate; the machine's core count bounds what more threads "
        "can add). `BM_BalancerNext` is `ChannelHandle::Next()` on a Balancer "
        "whose endpoints are all READY; `BM_SharedPtrChannelCopy` is the floor (`Next()` "
        "returns one shared_ptr); `BM_OriginalDesignPick` is a C++ re-creation of the "
        "original Go package's pick path (one global exclusive lock, a map lookup by "
        "service name, a random pick), labelled as such.\n\n");
    md.Add(
        "| benchmark | endpoints | 1 thread | 2 threads | 4 threads | 8 threads | Mpicks/s at 1 / "
        "2 / 8 threads |\n"
        "|---|---|---|---|---|---|---|\n");
    for (const auto& [key, by_threads] : picks) {
      std::vector<std::string> parts = absl::StrSplit(key, '/');
      std::string row =
          absl::StrCat("| `", parts[0], "` | ", parts.size() > 1 ? parts[1] : "-", " |");
      for (int t : {1, 2, 4, 8}) {
        auto it = by_threads.find(t);
        absl::StrAppend(&row, " ", it == by_threads.end() ? "-" : Fixed(it->second.first) + " ns",
                        " |");
      }
      std::vector<std::string> rates;
      for (int t : {1, 2, 8}) {
        auto it = by_threads.find(t);
        rates.push_back(it == by_threads.end() ? "-" : Fixed(it->second.second / 1e6));
      }
      absl::StrAppend(&row, " ", absl::StrJoin(rates, " / "), " |\n");
      md.Add(row);
    }
    md.Add("\n");
    // Targets: <= 50 ns single-thread at every size; no collapse with 8 threads:
    // the total pick rate with 8 threads keeps at least 80 % of the rate with 2
    // (oversubscribing the cores must not make the pick path fall over, as a
    // contended lock does). Going from 1 thread to 2 costs every design with a
    // shared counter, the shared_ptr floor included; the table shows that step.
    double worst1 = 0;
    bool no_collapse = true;
    std::string detail;
    for (const auto& [key, by_threads] : picks) {
      if (!absl::StartsWith(key, "BM_BalancerNext")) continue;
      auto one = by_threads.find(1), two = by_threads.find(2), eight = by_threads.find(8);
      if (one != by_threads.end()) worst1 = std::max(worst1, one->second.first);
      if (two != by_threads.end() && eight != by_threads.end()) {
        no_collapse &= eight->second.second >= 0.8 * two->second.second;
        absl::StrAppend(&detail, detail.empty() ? "" : "; ", key.substr(key.find('/') + 1),
                        " endpoints: ", Fixed(two->second.second / 1e6), " -> ",
                        Fixed(eight->second.second / 1e6));
      }
    }
    targets.push_back({"pick <= 50 ns, single thread (worst of 3-1,000 endpoints)",
                       Fixed(worst1) + " ns", Met(worst1 > 0 && worst1 <= 50)});
    targets.push_back(
        {"pick: no collapse with 8 threads (total picks/s at 8 threads >= 80 % of at 2)",
         "Mpicks/s 2 -> 8 threads: " + detail, Met(no_collapse && !detail.empty())});
  } else {
    md.Add("**Failed:**\n\n```\n" + pick.error + "\n```\n\n");
    targets.push_back({"pick overhead", "section failed", Met(false)});
  }

  // ---- Throughput --------------------------------------------------------------------
  md.Add("## 2. Unary throughput and latency\n\n");
  const Section& tp = get("throughput");
  if (tp.ok) {
    const json& r = tp.result;
    md.Add(absl::StrCat(
        "Closed loop of unary Echo calls, ", r["threads"].get<int>(), " caller threads, over ",
        r["pods"].get<int>(), " pods on loopback (client and servers share the machine); ",
        r["rounds"].get<int>(), " rounds of ", Fixed(r["seconds_per_round"].get<double>(), 1),
        " s per mode, in rotating order.\n\n"));
    md.Add("| mode | calls/s | p50 | p99 | failed |\n|---|---|---|---|---|\n");
    for (const json& m : r["modes"]) {
      md.Add(absl::StrCat(
          "| ", m["label"].get<std::string>(), " | ", Fixed(m["calls_per_second"].get<double>(), 0),
          " | ", Fixed(m["p50_us"].get<double>(), 0), " µs | ", Fixed(m["p99_us"].get<double>(), 0),
          " µs | ", m["failed"].get<int64_t>(), " |\n"));
    }
    const double ratio = r["pool_vs_round_robin_ratio"].get<double>();
    md.Add(absl::StrCat(
        "\nPool / round_robin calls per second over the whole run: **", Fixed(ratio, 3),
        "**. Per round the ratio spreads from ",
        Fixed(r["pool_vs_round_robin_p10_ratio"].get<double>(), 3), " (10th percentile) to ",
        Fixed(r["pool_vs_round_robin_p90_ratio"].get<double>(), 3), " (90th), median ",
        Fixed(r["pool_vs_round_robin_median_ratio"].get<double>(), 3),
        "; the mean per-round ratio is ",
        Fixed(r["pool_vs_round_robin_mean_ratio"].get<double>(), 3), " with a 95 % interval of ",
        Fixed(r["pool_vs_round_robin_ci95"][0].get<double>(), 3), "-",
        Fixed(r["pool_vs_round_robin_ci95"][1].get<double>(), 3),
        ". The spread is this machine's noise (client, servers and gRPC's threads "
        "share 2 cores); the pool adds one `Next()` (~20 ns) to a ~300 µs call.\n\n"));
    const double ci_low = r["pool_vs_round_robin_ci95"][0].get<double>();
    const double ci_high = r["pool_vs_round_robin_ci95"][1].get<double>();
    targets.push_back({"throughput >= 0.98 x gRPC round_robin (whole run, interleaved rounds)",
                       absl::StrCat(Fixed(ratio, 3), " (95 % interval of the per-round mean ",
                                    Fixed(ci_low, 3), "-", Fixed(ci_high, 3), ")"),
                       Met(ratio >= 0.98)});
    const double counted = r["pool_vs_uncounted_ratio"].get<double>();
    md.Add(absl::StrCat(
        "What counting every call costs (the interceptor on each pod's channel that feeds "
        "outlier ejection and least-request): pool / the same pool without it, same run: **",
        Fixed(counted, 3), "** (95 % interval of the per-round mean ",
        Fixed(r["pool_vs_uncounted_ci95"][0].get<double>(), 3), "-",
        Fixed(r["pool_vs_uncounted_ci95"][1].get<double>(), 3), ").\n\n"));
    targets.push_back(
        {"call-counting interceptor: pool >= 0.98 x the pool without it (throughput run)",
         absl::StrCat(Fixed(counted, 3), " (95 % interval ",
                      Fixed(r["pool_vs_uncounted_ci95"][0].get<double>(), 3), "-",
                      Fixed(r["pool_vs_uncounted_ci95"][1].get<double>(), 3), ")"),
         Met(counted >= 0.98)});
    const double via_xds = r["xds_vs_round_robin_ratio"].get<double>();
    md.Add(absl::StrCat(
        "Through an xDS channel (gRPC's own xDS client resolving `xds:///web.demo:80` from "
        "kube-grpc's in-process ADS server, gRPC picking): xDS / round_robin **",
        Fixed(via_xds, 3), "** (95 % interval of the per-round mean ",
        Fixed(r["xds_vs_round_robin_ci95"][0].get<double>(), 3), "-",
        Fixed(r["xds_vs_round_robin_ci95"][1].get<double>(), 3), "), xDS / pool ",
        Fixed(r["xds_vs_pool_ratio"].get<double>(), 3), ".\n\n"));
    targets.push_back(
        {"throughput through an xDS channel >= 0.98 x gRPC round_robin (throughput run)",
         absl::StrCat(Fixed(via_xds, 3), " (95 % interval ",
                      Fixed(r["xds_vs_round_robin_ci95"][0].get<double>(), 3), "-",
                      Fixed(r["xds_vs_round_robin_ci95"][1].get<double>(), 3), ")"),
         Met(via_xds >= 0.98)});
  } else {
    md.Add("**Failed:**\n\n```\n" + tp.error + "\n```\n\n");
    targets.push_back({"throughput", "section failed", Met(false)});
  }

  // ---- Least-request ----------------------------------------------------------------
  const Section& lrs = get("least_request");
  if (lrs.ok) {
    const json& r = lrs.result;
    md.Add(absl::StrCat(
        "### Least-request with a slow pod\n\nRound-robin and least-request (power of two "
        "choices over calls in flight) Balancers over the same ",
        r["pods"].get<int>(), " pods, ", r["threads"].get<int>(),
        " caller threads in closed loops; every pod answers after ",
        Fixed(r["base_latency_ms"].get<double>(), 0), " ms, then one after ",
        Fixed(r["slow_latency_ms"].get<double>(), 0), " ms (10x). ", r["rounds"].get<int>(),
        " rounds of ", Fixed(r["seconds_per_run"].get<double>(), 1),
        " s per run, interleaved.\n\n| policy | pods | calls/s | share of calls to the slow "
        "pod | failed |\n|---|---|---|---|---|\n"));
    std::map<std::string, json> by;  // "policy/slow"
    for (const json& run : r["runs"]) {
      const std::string key = absl::StrCat(run["policy"].get<std::string>(), "/",
                                           run["slow_pod"].get<bool>() ? "slow" : "equal");
      by[key] = run;
      md.Add(absl::StrCat("| ", run["policy"].get<std::string>(), " | ",
                          run["slow_pod"].get<bool>() ? "one 10x slower" : "equal", " | ",
                          Fixed(run["calls_per_second"].get<double>(), 0), " | ",
                          Fixed(100 * run["slow_pod_share"].get<double>(), 1), " % | ",
                          run["failed"].get<int64_t>(), " |\n"));
    }
    md.Add("\n");
    const double rr_share = by["round_robin/slow"]["slow_pod_share"].get<double>();
    const double lr_share = by["least_request/slow"]["slow_pod_share"].get<double>();
    const double equal_ratio = by["least_request/equal"]["calls_per_second"].get<double>() /
                               by["round_robin/equal"]["calls_per_second"].get<double>();
    targets.push_back(
        {"least-request: a 10x slower pod gets far fewer calls (share <= half of round-robin's)",
         absl::StrCat(Fixed(100 * lr_share, 1), " % vs ", Fixed(100 * rr_share, 1), " %"),
         Met(lr_share <= rr_share / 2)});
    targets.push_back({"least-request: equal pods, calls/s >= 0.95 x round-robin's",
                       Fixed(equal_ratio, 3), Met(equal_ratio >= 0.95)});
  } else {
    md.Add("**Failed (least_request):**\n\n```\n" + lrs.error + "\n```\n\n");
    targets.push_back({"least-request", "section failed", Met(false)});
  }

  // ---- Convergence ---------------------------------------------------------------------
  md.Add("## 3. Convergence: from the API reporting a change to the pool acting on it\n\n");
  const Section& cw = get("convergence_watch");
  const Section& cp = get("convergence_poll");
  auto stat_cells = [](const json& s, double scale) {
    return absl::StrCat(Fixed(s["median_ms"].get<double>() * scale, 1), " ms | ",
                        Fixed(s["p99_ms"].get<double>() * scale, 1), " ms | ",
                        Fixed(s["max_ms"].get<double>() * scale, 1), " ms | ", s["n"].get<int>());
  };
  if (cw.ok && cp.ok) {
    const json& w = cw.result;
    const json& p = cp.result;
    const double scale = p["scale"].get<double>();
    md.Add(absl::StrCat(
        "Load: ", Fixed(w["load_calls_per_second"].get<double>(), 0),
        " calls/s through the retry helper over 3 pods. Times are from the pod's change in the "
        "API (or, for a crash, from the container's death; the API reports not-ready right after) "
        "to: the new pod's first answered call; the terminating pod's last answered call (its "
        "preStop drain is ",
        Fixed(w["drain_ms"].get<double>(), 0), " ms in watch mode, ",
        Fixed(p["drain_ms"].get<double>(), 0),
        " ms in polling mode, so it serves until the pool lets go); "
        "the crashed pod out of the picker.\n\n",
        "**Polling mode** is the original's design in this harness: kube-grpc with the watch "
        "off, relisting every ",
        Fixed(p["poll_interval_ms"].get<double>(), 0),
        " ms and "
        "health-checking every connection every ",
        Fixed(p["ping_interval_ms"].get<double>(), 0),
        " ms: the original's 60 s / 1 s **scaled down 1:", Fixed(scale, 0),
        "** so that trials finish; the last column multiplies its median back up by ",
        Fixed(scale, 0),
        ". (Its crash row benefits from kube-grpc's connectivity tracking, "
        "which the original lacked: it found a dead pod only by its 1 s ping.)\n\n"));
    md.Add(
        "| change | mode | median | p99 | max | trials | polling at the original's real intervals "
        "(median x scale) |\n"
        "|---|---|---|---|---|---|---|\n");
    for (const auto& [key, label] : std::vector<std::pair<std::string, std::string>>{
             {"new_pod_first_call", "new ready pod: first call"},
             {"deleted_pod_last_call", "deleted pod: last call"},
             {"crashed_pod_out_of_rotation", "crashed pod: out of rotation"},
             {"restarted_pod_back_in_rotation", "restarted pod ready: back in rotation"}}) {
      md.Add(absl::StrCat("| ", label, " | watch (kube-grpc default) | ", stat_cells(w[key], 1),
                          " | |\n"));
      md.Add(absl::StrCat("| ", label, " | polling, scaled 1:", Fixed(scale, 0), " | ",
                          stat_cells(p[key], 1), " | ~",
                          Fixed(p[key]["median_ms"].get<double>() * scale / 1000, 1), " s |\n"));
    }
    md.Add(absl::StrCat("\nFailed calls during these trials: watch ",
                        w["load_failed"].get<int64_t>(), " of ",
                        w["load_ok"].get<int64_t>() + w["load_failed"].get<int64_t>(), "; polling ",
                        p["load_failed"].get<int64_t>(), " of ",
                        p["load_ok"].get<int64_t>() + p["load_failed"].get<int64_t>(), ".\n\n"));
    const double p99 = w["new_pod_first_call"]["p99_ms"].get<double>();
    targets.push_back({"new pod in rotation <= 100 ms p99 after the API reports it (watch)",
                       Fixed(p99, 1) + " ms", Met(p99 <= 100)});
  } else {
    md.Add("**Failed:**\n\n```\n" + cw.error + cp.error + "\n```\n\n");
    targets.push_back({"convergence", "section failed", Met(false)});
  }
  const Section& cx = get("convergence_xds");
  if (cx.ok) {
    const json& x = cx.result;
    md.Add(absl::StrCat(
        "**Through an xDS channel** (gRPC's own xDS client fed by kube-grpc's ADS server, "
        "gRPC picking; the same changes under ",
        Fixed(x["load_calls_per_second"].get<double>(), 0),
        " calls/s on the channel, each waiting for a ready pod):\n\n"
        "| change | median | p99 | max | trials |\n|---|---|---|---|---|\n"
        "| new ready pod: first call | ",
        stat_cells(x["new_pod_first_call"], 1), " |\n| deleted pod: last call | ",
        stat_cells(x["deleted_pod_last_call"], 1),
        " |\n\nFailed calls: ", x["load_failed"].get<int64_t>(), " of ",
        x["load_ok"].get<int64_t>() + x["load_failed"].get<int64_t>(), ".\n\n"));
    const double p99 = x["new_pod_first_call"]["p99_ms"].get<double>();
    targets.push_back(
        {"new pod gets traffic <= 50 ms p99 after the API reports it, through an xDS channel",
         Fixed(p99, 1) + " ms", Met(p99 <= 50)});
  } else {
    md.Add("**Failed (xDS):**\n\n```\n" + cx.error + "\n```\n\n");
    targets.push_back({"convergence through an xDS channel", "section failed", Met(false)});
  }

  // ---- Churn -----------------------------------------------------------------------
  md.Add("## 4. Churn under load\n\n");
  const Section& cr = get("churn_retry");
  const Section& cn = get("churn_plain");
  if (cr.ok && cn.ok) {
    const json& a = cr.result;
    md.Add(absl::StrCat(
        "A Deployment of ", a["pods"].get<int>(),
        " pods (100 ms readiness delay, 200 ms preStop "
        "drain) under ",
        Fixed(a["load_calls_per_second"].get<double>(), 0),
        " calls/s: a rolling update (maxSurge 1, maxUnavailable 0) replacing every pod, then one "
        "pod crash (restart after 500 ms). \"Calls to terminating pods\" are calls a pod answered "
        "after the API had marked it terminating (served during its drain, so not failures).\n\n"));
    md.Add(
        "| calls | ok | failed (rollout) | failed (crash) | failures by code | calls to "
        "terminating pods | p99 |\n"
        "|---|---|---|---|---|---|---|\n");
    for (const json* r : {&cr.result, &cn.result}) {
      md.Add(absl::StrCat("| ",
                          (*r)["retry"].get<bool>() ? "with the retry helper (idempotent)"
                                                    : "plain `Next()` + call",
                          " | ", (*r)["ok"].get<int64_t>(), " | ",
                          (*r)["failed_during_rollout"].get<int64_t>(), " | ",
                          (*r)["failed_during_crash"].get<int64_t>(), " | ",
                          (*r)["failures"].empty() ? "-" : (*r)["failures"].dump(), " | ",
                          (*r)["calls_to_terminating_pods"].get<int64_t>(), " | ",
                          Fixed((*r)["p99_ms"].get<double>(), 1), " ms |\n"));
    }
    const Section& cx = get("churn_xds");
    if (cx.ok) {
      const json& r = cx.result;
      md.Add(absl::StrCat("| through an xDS channel (gRPC retrying from `kube-grpc.io/retry`) | ",
                          r["ok"].get<int64_t>(), " | ", r["failed_during_rollout"].get<int64_t>(),
                          " | ", r["failed_during_crash"].get<int64_t>(), " | ",
                          r["failures"].empty() ? "-" : r["failures"].dump(), " | ",
                          r["calls_to_terminating_pods"].get<int64_t>(), " | ",
                          Fixed(r["p99_ms"].get<double>(), 1), " ms |\n"));
    }
    md.Add("\n");
    const int64_t failed = a["failed"].get<int64_t>();
    targets.push_back({"0 failed calls with the retry helper through a rolling update and a crash",
                       absl::StrCat(failed, " failed of ", a["ok"].get<int64_t>() + failed),
                       Met(failed == 0)});
    if (cx.ok) {
      const int64_t xfailed = cx.result["failed"].get<int64_t>();
      targets.push_back(
          {"0 failed idempotent calls through a rolling update and a crash, xDS channel",
           absl::StrCat(xfailed, " failed of ", cx.result["ok"].get<int64_t>() + xfailed),
           Met(xfailed == 0)});
    } else {
      md.Add("**Failed (xDS):**\n\n```\n" + cx.error + "\n```\n\n");
      targets.push_back({"churn through an xDS channel", "section failed", Met(false)});
    }
  } else {
    md.Add("**Failed:**\n\n```\n" + cr.error + cn.error + "\n```\n\n");
    targets.push_back({"churn", "section failed", Met(false)});
  }

  // ---- Scale -----------------------------------------------------------------------
  md.Add("## 5. Scale\n\n");
  const Section& sc = get("scale");
  const Section& ar = get("api_requests");
  const Section& mp = get("memory_pool");
  const Section& mb = get("memory_bare");
  if (sc.ok) {
    const json& s = sc.result;
    auto ms3 = [](const json& v) { return Fixed(v.get<double>(), 3); };
    auto mp99 = [&](const json& st) {
      return absl::StrCat(ms3(st["median_ms"]), " / ", ms3(st["p99_ms"]));
    };
    md.Add(absl::StrCat(
        "**End to end.** A Service of n endpoints in n/", s["per_slice"].get<int>(),
        " EndpointSlices in fakek8s's store, fed to the real `ServiceDiscovery` and "
        "`ChannelPool` by the harness's in-process client, which encodes and decodes the JSON "
        "`HttpK8sClient` would receive (the pods' channels are fakes: this measures "
        "bookkeeping). A change is one endpoint of one slice turning not ready or ready again "
        "(or all ",
        s["per_slice"].get<int>(),
        " endpoints of a slice); its time runs from the slice's write to the store to the "
        "pool's new picker; \"from the event line\" from the moment the client starts decoding "
        "the watch event's line, which the harness has encoded by then: the client's own work "
        "(decoding, discovery, the pool), what the targets take. The difference is the fake API "
        "server's share: its store write, waking the watch and encoding the line. Kubernetes "
        "sends the whole slice for a one-endpoint change, so every change decodes one slice "
        "event; its decode alone is shown beside. Figures in ms, median / p99.\n\n",
        "| endpoints | first pool | one-endpoint change, from the store write | from the event "
        "line | decoding the slice event | slice change, from the store write |\n"
        "|---|---|---|---|---|---|\n"));
    const json* e500 = nullptr;
    const json* e5k = nullptr;
    const json* e20k = nullptr;
    for (const json& r : s["end_to_end"]) {
      const int n = r["endpoints"].get<int>();
      if (n == 500) e500 = &r;
      if (n == 5000) e5k = &r;
      if (n == 20000) e20k = &r;
      md.Add(absl::StrCat(
          "| ", n, " (", r["picked_after_first_pool"].get<int>(), " picked) | ",
          Fixed(r["first_pool_ms"].get<double>(), 1), " | ", mp99(r["one_endpoint_change"]), " | ",
          mp99(r["one_endpoint_change_from_decoding"]), " | ", mp99(r["decode_one_slice_event"]),
          " | ", mp99(r["slice_change"]), " |\n"));
    }
    md.Add(
        "\n**Discovery and pool alone, beside the baseline.** The same changes without JSON or "
        "threads: the real `ServiceDiscovery` (fed decoded slices by an in-memory client) and "
        "`ChannelPool`, against the baseline: the algorithm before issue 18 (merge every slice, "
        "sort, compare, diff; rebuild the picker from every entry), kept in the benchmark over "
        "the same types. Figures in ms, median / p99.\n\n"
        "| endpoints | one-endpoint change | baseline | slice change | baseline |\n"
        "|---|---|---|---|---|\n");
    for (const json& r : s["algorithms"]) {
      md.Add(absl::StrCat("| ", r["endpoints"].get<int>(), " | ",
                          mp99(r["incremental"]["one_endpoint_change"]), " | ",
                          mp99(r["baseline"]["one_endpoint_change"]), " | ",
                          mp99(r["incremental"]["slice_change"]), " | ",
                          mp99(r["baseline"]["slice_change"]), " |\n"));
    }
    const json& ro = s["rollout"];
    const json& mem = s["memory"];
    const json& ctl = s["controller"];
    md.Add(absl::StrCat(
        "\n| measure | value |\n|---|---|\n", "| rolling update of a ", ro["endpoints"].get<int>(),
        "-endpoint Service (per pod: new endpoint not ready, ready, old one removed; ",
        ro["incremental"]["events"].get<int64_t>(), " slice events): CPU in discovery + pool | ",
        Fixed(ro["incremental"]["cpu_ms"].get<double>(), 0), " ms (baseline ",
        Fixed(ro["baseline"]["cpu_ms"].get<double>(), 0), " ms) |\n",
        "| discovery's endpoint state per endpoint, ", mem["endpoints"].get<int>(),
        " endpoints (heap) | ", Fixed(mem["incremental_bytes_per_endpoint"].get<double>(), 0),
        " B (baseline ", Fixed(mem["baseline_bytes_per_endpoint"].get<double>(), 0), " B) |\n",
        "| fakek8s's endpoint controller: creating ", ctl["pods"].get<int>(),
        " pods of one Service one by one (each write reconciled) | ",
        Fixed(ctl["setup_ms"].get<double>() / 1000, 1), " s |\n",
        "| fakek8s's endpoint controller: one pod's readiness change then, median / p99 | ",
        mp99(ctl["one_pod_change"]), " ms |\n"));
    // The verdicts take the client's whole work for a change: from the event's
    // line (as the HTTP client would hold it) through decoding, discovery and
    // the pool to the new picker. The time before it is fakek8s's store write
    // and the harness encoding the line: the API server's share, shown beside.
    auto p99_of = [](const json* r) {
      return (*r)["one_endpoint_change_from_decoding"]["p99_ms"].get<double>();
    };
    auto value = [&](const json* r) {
      return absl::StrCat(Fixed(p99_of(r), 3), " ms (from the store write: ",
                          Fixed((*r)["one_endpoint_change"]["p99_ms"].get<double>(), 3), " ms)");
    };
    const std::string what = "(p99, the client's work: event line -> new picker)";
    if (e5k != nullptr) {
      targets.push_back({"one-endpoint change in a 5,000-endpoint Service <= 1 ms " + what,
                         value(e5k), Met(p99_of(e5k) <= 1)});
    } else {
      targets.push_back({"one-endpoint change in a 5,000-endpoint Service <= 1 ms " + what,
                         "not measured", Met(false)});
    }
    const std::string ratio_what =
        "one-endpoint change cost 20,000 / 500 endpoints <= 3 (medians, the client's work)";
    if (e20k != nullptr && e500 != nullptr) {
      auto median = [](const json* r) {
        return (*r)["one_endpoint_change_from_decoding"]["median_ms"].get<double>();
      };
      const double ratio = median(e20k) / median(e500);
      targets.push_back({"one-endpoint change in a 20,000-endpoint Service <= 1 ms " + what,
                         value(e20k), Met(p99_of(e20k) <= 1)});
      targets.push_back({ratio_what,
                         absl::StrCat(Fixed(ratio, 2), " (", Fixed(median(e20k), 3), " / ",
                                      Fixed(median(e500), 3), " ms)"),
                         Met(ratio <= 3)});
    } else {
      for (const std::string& t :
           {"one-endpoint change in a 20,000-endpoint Service <= 1 ms " + what, ratio_what}) {
        targets.push_back({t, "not measured (--quick runs 500 and 5,000)", Met(false)});
      }
    }
  } else {
    md.Add("**Failed (scale):**\n\n```\n" + sc.error + "\n```\n\n");
    targets.push_back({"scale", "section failed", Met(false)});
  }
  if (mp.ok && mb.ok) {
    const json& a = mp.result;
    const json& b = mb.result;
    md.Add(absl::StrCat("| memory per pod channel: kube-grpc pool, ", a["ready"].get<int>(), " of ",
                        a["channels"].get<int>(), " channels READY and idle | ",
                        Fixed(a["bytes_per_channel"].get<double>() / 1024, 1), " KiB (RSS delta ",
                        Fixed(a["rss_delta_bytes"].get<double>() / (1 << 20), 1), " MiB) |\n",
                        "| memory per channel: bare `grpc::CreateChannel`, ", b["ready"].get<int>(),
                        " of ", b["channels"].get<int>(), " READY and idle (the floor) | ",
                        Fixed(b["bytes_per_channel"].get<double>() / 1024, 1), " KiB (RSS delta ",
                        Fixed(b["rss_delta_bytes"].get<double>() / (1 << 20), 1), " MiB) |\n"));
  } else {
    md.Add("\n**Failed (memory):**\n\n```\n" + mp.error + mb.error + "\n```\n\n");
  }
  if (ar.ok) {
    const json& a = ar.result;
    std::vector<std::string> parts;
    for (const auto& [key, n] : a["requests"].items())
      parts.push_back(absl::StrCat("`", key, "` ", n.get<int64_t>()));
    md.Add(absl::StrCat("| API requests for one Service after ", a["connect_calls"].get<int>(),
                        " `Connect` calls from 8 threads in 4 spellings | ",
                        a["requests_total"].get<int64_t>(), ": ", absl::StrJoin(parts, ", "),
                        "; open watch streams: ", a["open_watch_streams"].get<int>(), " |\n"));
  } else {
    md.Add("\n**Failed (API requests):**\n\n```\n" + ar.error + "\n```\n\n");
  }
  md.Add("\n");

  // ---- Shutdown ----------------------------------------------------------------------
  md.Add("## 6. Balancer shutdown\n\n");
  const Section& sd = get("shutdown");
  if (sd.ok) {
    const json& s = sd.result;
    md.Add(absl::StrCat(
        "`~Balancer` (Shutdown, then destruction), ", s["trials"].get<int>(),
        " trials per case: after calls through three real pods with the API idle; and while "
        "discovery's first request is in flight to an API server that accepts and never "
        "answers, that drops SYNs (a full accept queue), or that answers after 10 s. The "
        "client's own timeouts are 10 s (connect) and 30 s (read): only cancellation can "
        "end those requests sooner.\n\n| case | median | p99 | max |\n|---|---|---|---|\n"));
    double worst = 0;
    for (const auto& [name, stats] : s["variants"].items()) {
      md.Add(absl::StrCat("| ", name, " | ", Fixed(stats["median_ms"].get<double>(), 1), " ms | ",
                          Fixed(stats["p99_ms"].get<double>(), 1), " ms | ",
                          Fixed(stats["max_ms"].get<double>(), 1), " ms |\n"));
      worst = std::max(worst, stats["p99_ms"].get<double>());
    }
    md.Add("\n");
    targets.push_back({"Balancer shutdown <= 100 ms (p99, every case)",
                       Fixed(worst, 1) + " ms (worst case)", Met(worst <= 100)});
  } else {
    md.Add("**Failed (shutdown):**\n\n```\n" + sd.error + "\n```\n\n");
    targets.push_back({"Balancer shutdown", "section failed", Met(false)});
  }

  // ---- Control plane fan-out ----------------------------------------------------------
  md.Add("## 7. Control plane fan-out (kube-grpc-xds)\n\n");
  const Section& fo = get("fanout");
  if (fo.ok) {
    const json& f = fo.result;
    md.Add(absl::StrCat(
        "The control plane (kube-grpc-xds's `AdsServer`, registry and Kubernetes client) in a "
        "process of its own, against fakek8s over HTTPS; the clients are ADS streams that ACK "
        "every response at once (`testing/ads_fleet`), ten per connection, each subscribed to "
        "the same ",
        f["services"].get<int>(),
        " Services. A trial turns one pod not ready (or ready again) in the API and waits until "
        "every stream has received the change; the time runs from the API write to the last "
        "stream's copy (which it ACKs at once). CPU per trial: what the server's process, and "
        "this one (the fleet's streams and fakek8s), used over the trials, divided by their "
        "number: on 2 cores, both compete. Memory: the server's RSS growth per stream "
        "(idle: ",
        Fixed(f["server_rss_idle_bytes"].get<double>() / 1048576.0, 1), " MiB).\n\n",
        "| streams | connections | API watches open | API change -> last stream: median | p99 "
        "| max | trials | CPU per trial: server / fleet + API | server memory per stream "
        "|\n|---|---|---|---|---|---|---|---|---|\n"));
    bool watches_flat = true;
    double p99_at_most = 0;
    int most = 0;
    for (const json& row : f["fleets"]) {
      // The first stream starts the ten discoveries: its growth is theirs.
      const std::string memory =
          row["streams"].get<int>() == 1
              ? absl::StrCat("(the first: ",
                             Fixed(row["server_bytes_per_stream"].get<double>() / 1048576.0, 1),
                             " MiB, with the discoveries it starts)")
              : Fixed(row["server_bytes_per_stream"].get<double>() / 1024.0, 1) + " KiB";
      md.Add(absl::StrCat(
          "| ", row["streams"].get<int>(), " | ", row["connections"].get<int>(), " | ",
          row["api_watches_open"].get<int>(), " | ", stat_cells(row["event_to_last_ack"], 1), " | ",
          Fixed(row["server_cpu_ms_per_trial"].get<double>(), 1), " ms / ",
          Fixed(row["fleet_and_api_cpu_ms_per_trial"].get<double>(), 1), " ms | ", memory, " |\n"));
      watches_flat &= row["api_watches_open"].get<int>() == f["services"].get<int>();
      if (row["streams"].get<int>() >= most) {
        most = row["streams"].get<int>();
        p99_at_most = row["event_to_last_ack"]["p99_ms"].get<double>();
      }
    }
    const json& big = f["large_service"];
    md.Add(absl::StrCat(
        "\nA one-endpoint change of a ", big["endpoints"].get<int>(),
        "-endpoint Service, pushed to ", big["streams"].get<int>(),
        " streams (store write -> last stream's copy): median ",
        Fixed(big["store_write_to_last_ack"]["median_ms"].get<double>(), 1), " ms, p99 ",
        Fixed(big["store_write_to_last_ack"]["p99_ms"].get<double>(), 1), " ms.\n\n"));
    targets.push_back({"control plane: API watches open = the Services, whatever the clients",
                       watches_flat ? "yes" : "no", Met(watches_flat)});
    targets.push_back(
        {absl::StrCat("control plane: API change -> last of ", most, " streams <= 50 ms p99"),
         Fixed(p99_at_most, 1) + " ms", Met(p99_at_most <= 50)});
  } else {
    md.Add("**Failed (fanout):**\n\n```\n" + fo.error + "\n```\n\n");
    targets.push_back({"control plane fan-out", "section failed", Met(false)});
  }

  // ---- Targets -----------------------------------------------------------------------
  std::string table = "## Targets\n\n| target | this run | verdict |\n|---|---|---|\n";
  for (const auto& t : targets)
    absl::StrAppend(&table, "| ", t[0], " | ", t[1], " | ", t[2], " |\n");
  md.Add("The raw figures of every section are in the JSON written with `--json_out`.\n");

  std::string text = md.str();
  // The targets first, after the machine section, for a reader in a hurry.
  const size_t at = text.find("## 1. Pick overhead");
  if (at != std::string::npos) text = text.substr(0, at) + table + "\n" + text.substr(at);

  std::ofstream file(out);
  file << text;
  if (!file) {
    std::cerr << "report: cannot write " << out << "\n";
    return 1;
  }
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json_out)) << raw.dump(2) << "\n";
  }
  std::cout << "wrote " << out << (all_ok ? "" : " (some sections FAILED)") << std::endl;
  return all_ok ? 0 : 1;
}
