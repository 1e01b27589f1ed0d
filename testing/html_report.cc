#include "testing/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "testing/step_action.h"

namespace kubegrpc::testing {

using json = nlohmann::json;

namespace {

// Distinct colours for up to 12 series, then repeating.
const char* Colour(size_t i) {
  static const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                   "#bcbd22", "#17becf", "#393b79", "#637939"};
  return kColours[i % 12];
}

// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten.
double NiceMax(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (v <= m * p) return m * p;
  }
  return 10 * p;
}

std::string Num(double v) { return NumberLabel(v); }

// A round step for about `target` ticks over [0, max]: 1, 2 or 5 x 10^k.
double TickStep(double max, int target, bool integer) {
  double raw = max / std::max(1, target);
  if (integer) raw = std::max(raw, 1.0);
  const double p = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * p) return m * p;
  }
  return 10 * p;
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

}  // namespace

std::string NumberLabel(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9) return absl::StrFormat("%.0f", v);
  std::string out = absl::StrFormat("%.3g", v);
  return out;
}

std::string SvgLineChart(const std::string& id, const std::string& title,
                         const std::string& y_label, double x_step,
                         const std::vector<ChartSeries>& series,
                         const std::vector<ChartMarker>& markers, bool integer_y) {
  const double width = 860, height = 300, left = 56, right = 150, top = 30, bottom = 40;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  size_t points = 0;
  double max_y = 0;
  for (const ChartSeries& s : series) {
    points = std::max(points, s.values.size());
    for (double v : s.values) {
      if (!std::isnan(v)) max_y = std::max(max_y, v);
    }
  }
  const double x_max = std::max(1.0, points * x_step);
  const double y_step = TickStep(std::max(max_y, integer_y ? 1.0 : 1e-9), 4, integer_y);
  const double y_max = std::max(y_step, std::ceil(max_y / y_step - 1e-9) * y_step);
  auto X = [&](double x) { return left + plot_w * x / x_max; };
  auto Y = [&](double y) { return top + plot_h * (1 - y / y_max); };
  std::string svg = absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n"
      "<text x=\"%.0f\" y=\"18\" class=\"title\">%s</text>\n",
      HtmlEscape(id), width, height, width, height, HtmlEscape(title), left, HtmlEscape(title));
  // Shaded spans first, under everything else.
  for (const ChartMarker& m : markers) {
    if (m.until <= m.x) continue;
    const double x0 = X(std::min(m.x, x_max)), x1 = X(std::min(m.until, x_max));
    absl::StrAppendFormat(&svg,
                          "<rect class=\"span\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                          "height=\"%.1f\"/>\n",
                          x0, top, std::max(1.0, x1 - x0), plot_h);
  }
  // Axes and grid, on round values.
  for (double y = 0; y <= y_max + 1e-9; y += y_step) {
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>\n",
        left, Y(y), left + plot_w, Y(y), left - 6, Y(y) + 4, Num(y));
  }
  const double x_tick = TickStep(x_max, 8, false);
  for (double x = 0; x <= x_max + 1e-9; x += x_tick) {
    absl::StrAppendFormat(
        &svg, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%ss</text>\n",
        X(x), top + plot_h + 16, Num(x));
  }
  absl::StrAppendFormat(
      &svg,
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>"
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n"
      "<text x=\"12\" y=\"%.1f\" class=\"tick\" transform=\"rotate(-90 12 %.1f)\" "
      "text-anchor=\"middle\">%s</text>\n",
      left, top, left, top + plot_h, left, top + plot_h, left + plot_w, top + plot_h,
      top + plot_h / 2, top + plot_h / 2, HtmlEscape(y_label));
  // Markers.
  for (size_t i = 0; i < markers.size(); ++i) {
    const double x = X(std::min(markers[i].x, x_max));
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"marker\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"marker-label\">%s</text>\n",
                          x, top, x, top + plot_h, x + 3, top + 12 + 11.0 * (i % 4),
                          HtmlEscape(markers[i].label));
  }
  // Lines (broken where a series has no point) and the legend.
  for (size_t s = 0; s < series.size(); ++s) {
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < series[s].values.size(); ++i) {
      const double v = series[s].values[i];
      if (std::isnan(v)) {
        pen_down = false;
        continue;
      }
      absl::StrAppendFormat(&path, "%s%.1f,%.1f", pen_down ? " L" : (path.empty() ? "M" : " M"),
                            X((i + 0.5) * x_step), Y(v));
      pen_down = true;
    }
    absl::StrAppendFormat(&svg,
                          "<path class=\"series\" data-series=\"%s\" fill=\"none\" "
                          "stroke=\"%s\" stroke-width=\"1.8\" d=\"%s\"/>\n"
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s</text>\n",
                          HtmlEscape(series[s].name), Colour(s), path, left + plot_w + 14,
                          top + 14.0 * s, Colour(s), left + plot_w + 28, top + 14.0 * s + 9,
                          HtmlEscape(series[s].name));
  }
  svg += "</svg>\n";
  return svg;
}

std::string SvgBarChart(const std::string& id, const std::string& title, const std::string& unit,
                        const std::vector<std::pair<std::string, double>>& bars,
                        const std::string& nan_label) {
  const double width = 860, row = 22, left = 300, right = 110, top = 30;
  const double height = top + row * std::max<size_t>(1, bars.size()) + 12;
  const double plot_w = width - left - right;
  double max_v = 0;
  for (const auto& [label, v] : bars) {
    if (!std::isnan(v)) max_v = std::max(max_v, v);
  }
  const double v_max = NiceMax(max_v);
  std::string svg = absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n"
      "<text x=\"8\" y=\"18\" class=\"title\">%s</text>\n",
      HtmlEscape(id), width, height, width, height, HtmlEscape(title), HtmlEscape(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = top + row * i;
    const double v = bars[i].second;
    absl::StrAppendFormat(
        &svg, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>", left - 6,
        y + 14, HtmlEscape(bars[i].first));
    if (std::isnan(v)) {
      absl::StrAppendFormat(&svg,
                            "<rect class=\"bar\" data-label=\"%s\" data-value=\"nan\" x=\"%.1f\" "
                            "y=\"%.1f\" width=\"0\" height=\"%.1f\"/>"
                            "<text x=\"%.1f\" y=\"%.1f\" class=\"tick bad\">%s</text>\n",
                            HtmlEscape(bars[i].first), left, y + 3, row - 6, left + 6, y + 14,
                            HtmlEscape(nan_label));
      continue;
    }
    const double w = plot_w * v / v_max;
    absl::StrAppendFormat(&svg,
                          "<rect class=\"bar\" data-label=\"%s\" data-value=\"%g\" x=\"%.1f\" "
                          "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s %s</text>\n",
                          HtmlEscape(bars[i].first), v, left, y + 3, std::max(1.0, w), row - 6,
                          Colour(i), left + std::max(1.0, w) + 6, y + 14, Num(v), HtmlEscape(unit));
  }
  svg += "</svg>\n";
  return svg;
}

std::string HtmlPage(const std::string& title, const std::string& body, const json& data) {
  // JSON inside <script>: "</" must not end the element early.
  std::string embedded = data.dump();
  for (size_t at = embedded.find("</"); at != std::string::npos; at = embedded.find("</", at)) {
    embedded.replace(at, 2, "<\\/");
  }
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
      HtmlEscape(title),
      "</title>\n<style>\n"
      "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;"
      "max-width:960px}\n"
      "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;"
      "padding:3px 8px;text-align:left;font-size:14px}th{background:#f3f3f3}\n"
      ".chart{display:block;margin:8px 0 "
      "24px;font-size:11px}.title{font-size:14px;font-weight:600}\n"
      ".grid{stroke:#e6e6e6}.axis{stroke:#555}.tick{fill:#444}.legend{fill:#222}\n"
      ".marker{stroke:#999;stroke-dasharray:4 3}.marker-label{fill:#555;font-size:10px}\n"
      ".span{fill:#d62728;fill-opacity:0.08}.bad{fill:#cf222e}\n"
      ".ok{color:#1a7f37}.bad{color:#cf222e}\n"
      "</style>\n</head>\n<body>\n",
      body, "<script type=\"application/json\" id=\"kube-grpc-data\">", embedded,
      "</script>\n</body>\n</html>\n");
}

json ScenarioSummaryJson(const Scenario& scenario, const ScenarioReport& report) {
  const LoadReport& load = report.load;
  json by_pod = json::object();
  for (const auto& [pod, n] : load.by_pod) by_pod[pod] = n;
  json failures = json::object();
  for (const auto& [code, n] : load.failures) failures[code] = n;
  json timeline = json::array();
  for (const auto& interval : load.timeline) {
    json row = json::object();
    for (const auto& [pod, n] : interval) row[pod] = n;
    timeline.push_back(row);
  }
  json steps = json::array();
  for (const StepResult& s : report.steps) {
    steps.push_back(
        {{"at_s", Seconds(s.step.at)},
         {"action", s.step.action},
         {"took_ms", absl::ToDoubleMilliseconds(s.took)},
         {"converged_after_ms", s.converged_after == absl::InfiniteDuration()
                                    ? json(nullptr)
                                    : json(absl::ToDoubleMilliseconds(s.converged_after))},
         {"status", s.status.ok() ? "OK" : s.status.ToString()}});
  }
  json events = json::array();
  for (const ClusterEvent& e : report.events) {
    events.push_back({{"at_s", Seconds(e.at - report.start)},
                      {"pod", e.pod},
                      {"event", ClusterEventName(e.kind)}});
  }
  const BalancerOptions& b = scenario.balancer;
  return {{"scenario", report.name},
          {"mode", ScenarioModeName(report.mode)},
          {"duration_s", Seconds(scenario.duration)},
          {"interval_s", Seconds(load.interval)},
          {"settings",
           {{"watch", b.discovery.watch},
            {"resync_s", Seconds(b.discovery.resync_interval)},
            {"health", b.pool.health.mode == HealthCheckOptions::Mode::kNone ? "none" : "on"},
            {"health_interval_s", Seconds(b.pool.health.interval)},
            {"rate", scenario.load.rate},
            {"threads", scenario.load.threads},
            {"retry", scenario.load.retry}}},
          {"ok", load.ok},
          {"failed", load.failed},
          {"failures", failures},
          {"p50_ms", absl::ToDoubleMilliseconds(load.p50)},
          {"p99_ms", absl::ToDoubleMilliseconds(load.p99)},
          {"by_pod", by_pod},
          {"timeline", timeline},
          {"failed_timeline", load.failed_timeline},
          {"steps", steps},
          {"events", events}};
}

std::string ScenarioHtml(const Scenario& scenario, const ScenarioReport& report) {
  const json data = ScenarioSummaryJson(scenario, report);
  const LoadReport& load = report.load;
  const double interval_s = std::max(1e-3, Seconds(load.interval));
  // Complete intervals only: the last one was still filling when the run ended.
  const size_t intervals = load.timeline.empty() ? 0 : load.timeline.size() - 1;
  // Pods, naturally sorted (web-2 before web-10), and when each existed: from
  // its creation to its deletion (or the run's end) as the cluster reported.
  std::vector<std::string> pods;
  for (const auto& interval : load.timeline) {
    for (const auto& [pod, n] : interval) {
      if (std::find(pods.begin(), pods.end(), pod) == pods.end()) pods.push_back(pod);
    }
  }
  pods = NaturallySorted(pods);
  std::map<std::string, std::pair<double, double>> lifetime;  // seconds from the start
  for (const ClusterEvent& e : report.events) {
    const double at = Seconds(e.at - report.start);
    auto [it, inserted] = lifetime.emplace(e.pod, std::make_pair(0.0, 1e18));
    if (e.kind == ClusterEvent::Kind::kCreated) it->second.first = std::max(0.0, at);
    if (e.kind == ClusterEvent::Kind::kDeleted) it->second.second = at;
  }
  // Bins wide enough that a pod's calls per bin are not a handful (which makes
  // a sawtooth of the rate), at least 0.5 s; then a 3-bin moving average.
  const double per_pod_rate =
      scenario.load.rate > 0 ? scenario.load.rate / std::max<size_t>(1, pods.size()) : 100;
  int per_bin = std::max(1, static_cast<int>(std::ceil(0.5 / interval_s)));
  while (per_pod_rate * per_bin * interval_s < 25 && per_bin * interval_s < 5) per_bin *= 2;
  const double bin_s = per_bin * interval_s;
  const size_t bins = intervals / per_bin;  // whole bins only
  std::vector<ChartSeries> per_pod;
  for (const std::string& pod : pods) {
    std::vector<double> raw(bins, 0);
    for (size_t b = 0; b < bins; ++b) {
      for (int k = 0; k < per_bin; ++k) {
        const auto& interval = load.timeline[b * per_bin + k];
        auto it = interval.find(pod);
        if (it != interval.end()) raw[b] += it->second;
      }
      raw[b] /= bin_s;
    }
    const auto life = lifetime.count(pod) > 0 ? lifetime[pod] : std::make_pair(0.0, 1e18);
    ChartSeries s{pod, {}};
    for (size_t b = 0; b < bins; ++b) {
      const double mid = (b + 0.5) * bin_s;
      if (mid < life.first || mid > life.second) {
        s.values.push_back(std::nan(""));  // the pod did not exist
        continue;
      }
      double sum = 0;
      int n = 0;
      for (size_t j = b == 0 ? 0 : b - 1; j <= std::min(bins - 1, b + 1); ++j) {
        const double m = (j + 0.5) * bin_s;
        if (m < life.first || m > life.second) continue;
        sum += raw[j];
        ++n;
      }
      s.values.push_back(n > 0 ? sum / n : 0);
    }
    per_pod.push_back(std::move(s));
  }
  std::vector<ChartMarker> markers;
  for (const StepResult& s : report.steps) {
    ChartMarker m{Seconds(s.step.at), s.step.action};
    absl::StatusOr<StepAction> action = ParseStepAction(s.step.action);
    if (action.ok() && action->verb == StepAction::Verb::kOutage) {
      m.until = Seconds(s.step.at + action->duration);  // shaded
    }
    markers.push_back(std::move(m));
  }
  // Failed calls: counts per bin (whole numbers), not a rate.
  ChartSeries failed{"failed", {}};
  for (size_t b = 0; b < bins; ++b) {
    int64_t n = 0;
    for (int k = 0; k < per_bin; ++k) {
      const size_t i = b * per_bin + k;
      if (i < load.failed_timeline.size()) n += load.failed_timeline[i];
    }
    failed.values.push_back(static_cast<double>(n));
  }
  std::vector<std::pair<std::string, double>> convergence;
  for (const StepResult& s : report.steps) {
    convergence.push_back({absl::StrCat(Num(Seconds(s.step.at)), "s ", s.step.action),
                           s.converged_after == absl::InfiniteDuration()
                               ? std::nan("")
                               : absl::ToDoubleMilliseconds(s.converged_after)});
  }

  std::string body = absl::StrCat("<h1>kube-grpc scenario: ", HtmlEscape(report.name), "</h1>\n");
  const BalancerOptions& b = scenario.balancer;
  absl::StrAppend(
      &body, "<p>", Num(Seconds(scenario.duration)), " s of load at ", Num(scenario.load.rate),
      " calls/s (", scenario.load.threads, " threads, ",
      report.mode == ScenarioMode::kXds
          ? absl::StrCat(
                scenario.load.retry ? "gRPC retries from kube-grpc.io/retry" : "no retries",
                ") through an xDS channel (gRPC's own balancing, kube-grpc's ADS server) ")
          : absl::StrCat(scenario.load.retry ? "retry helper" : "no retries",
                         ") through a <code>Balancer</code> "),
      "over a fake cluster on loopback. Discovery: ", b.discovery.watch ? "watch" : "polling",
      ", resync every ", absl::FormatDuration(b.discovery.resync_interval), "; health checks: ",
      report.mode == ScenarioMode::kXds ? "none of ours (the API's readiness, sent as EDS health)"
      : b.pool.health.mode == HealthCheckOptions::Mode::kNone
          ? "off"
          : absl::StrCat("every ", absl::FormatDuration(b.pool.health.interval)),
      ". Generated ", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()),
      ".</p>\n");
  absl::StrAppend(&body, "<h2>Summary</h2>\n<table id=\"summary\">\n",
                  "<tr><th>calls ok</th><td id=\"ok\">", load.ok, "</td></tr>\n",
                  "<tr><th>calls failed</th><td id=\"failed\" class=\"",
                  load.failed == 0 ? "ok" : "bad", "\">", load.failed, "</td></tr>\n");
  for (const auto& [code, n] : load.failures) {
    absl::StrAppend(&body, "<tr><th>&nbsp;&nbsp;", HtmlEscape(code), "</th><td>", n,
                    "</td></tr>\n");
  }
  absl::StrAppend(&body, "<tr><th>latency p50 / p99</th><td>",
                  absl::StrFormat("%.2f ms / %.2f ms", absl::ToDoubleMilliseconds(load.p50),
                                  absl::ToDoubleMilliseconds(load.p99)),
                  "</td></tr>\n<tr><th>pods that answered</th><td id=\"pods\">", load.by_pod.size(),
                  "</td></tr>\n</table>\n");
  absl::StrAppend(&body,
                  "<h2>Calls per pod over time</h2>\n<p>Calls per second each pod answered, in ",
                  Num(bin_s),
                  " s bins averaged over three; a pod's line runs from its creation to its "
                  "deletion. Shaded: the API server was unreachable.</p>\n",
                  SvgLineChart("calls-per-pod", "Calls per second, per pod", "calls/s", bin_s,
                               per_pod, markers));
  absl::StrAppend(&body, "<h2>Failed calls over time</h2>\n",
                  SvgLineChart("failures", absl::StrCat("Failed calls per ", Num(bin_s), " s"),
                               "failed calls", bin_s, {failed}, markers, /*integer_y=*/true));
  const bool xds = report.mode == ScenarioMode::kXds;
  absl::StrAppend(
      &body, "<h2>Convergence</h2>\n<p>After each step: the time until ",
      xds ? "a whole interval of calls (through an xDS channel) went to" : "the pool picked",
      " exactly the pods the API reported ready. \"never\": not before the "
      "run ended.</p>\n",
      SvgBarChart("convergence", "Convergence after each step", "ms", convergence));
  absl::StrAppend(&body,
                  "<table id=\"steps\">\n<tr><th>at</th><th>step</th><th>applied in</th>"
                  "<th>",
                  xds ? "calls" : "pool", " matched the API after</th></tr>\n");
  for (const StepResult& s : report.steps) {
    absl::StrAppend(&body, "<tr><td>", Num(Seconds(s.step.at)), " s</td><td>",
                    HtmlEscape(s.step.action), "</td><td>",
                    absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(s.took)), "</td><td>",
                    s.converged_after == absl::InfiniteDuration()
                        ? "never"
                        : absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(s.converged_after)),
                    "</td></tr>\n");
  }
  absl::StrAppend(&body,
                  "</table>\n<h2>Calls per pod</h2>\n<table id=\"by-pod\">\n"
                  "<tr><th>pod</th><th>calls</th></tr>\n");
  for (const std::string& pod : pods) {
    auto it = load.by_pod.find(pod);
    absl::StrAppend(&body, "<tr><td>", HtmlEscape(pod), "</td><td>",
                    it == load.by_pod.end() ? 0 : it->second, "</td></tr>\n");
  }
  absl::StrAppend(
      &body, "</table>\n<details><summary>Cluster events (", report.events.size(),
      ")</summary>\n<table id=\"events\">\n<tr><th>at</th><th>pod</th><th>event</th></tr>\n");
  for (const ClusterEvent& e : report.events) {
    absl::StrAppend(&body, "<tr><td>", absl::StrFormat("%.3f s", Seconds(e.at - report.start)),
                    "</td><td>", HtmlEscape(e.pod), "</td><td>", ClusterEventName(e.kind),
                    "</td></tr>\n");
  }
  absl::StrAppend(&body, "</table>\n</details>\n");
  return HtmlPage(absl::StrCat("kube-grpc scenario: ", report.name), body, data);
}

}  // namespace kubegrpc::testing
