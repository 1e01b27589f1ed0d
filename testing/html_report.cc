#include "testing/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

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

std::string Num(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.1f", v);
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string SvgLineChart(const std::string& id, const std::string& title,
                         const std::string& y_label, double x_step,
                         const std::vector<ChartSeries>& series,
                         const std::vector<ChartMarker>& markers) {
  const double width = 860, height = 300, left = 56, right = 150, top = 30, bottom = 40;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  size_t points = 0;
  double max_y = 0;
  for (const ChartSeries& s : series) {
    points = std::max(points, s.values.size());
    for (double v : s.values) max_y = std::max(max_y, v);
  }
  const double x_max = std::max(1.0, points * x_step);
  const double y_max = NiceMax(max_y);
  auto X = [&](double x) { return left + plot_w * x / x_max; };
  auto Y = [&](double y) { return top + plot_h * (1 - y / y_max); };
  std::string svg = absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n"
      "<text x=\"%.0f\" y=\"18\" class=\"title\">%s</text>\n",
      HtmlEscape(id), width, height, width, height, HtmlEscape(title), left, HtmlEscape(title));
  // Axes and grid.
  for (int i = 0; i <= 4; ++i) {
    const double y = y_max * i / 4;
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>\n",
        left, Y(y), left + plot_w, Y(y), left - 6, Y(y) + 4, Num(y));
  }
  const int x_ticks = 8;
  for (int i = 0; i <= x_ticks; ++i) {
    const double x = x_max * i / x_ticks;
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
  // Lines and the legend.
  for (size_t s = 0; s < series.size(); ++s) {
    std::string pts;
    for (size_t i = 0; i < series[s].values.size(); ++i) {
      absl::StrAppendFormat(&pts, "%s%.1f,%.1f", i == 0 ? "" : " ", X((i + 0.5) * x_step),
                            Y(series[s].values[i]));
    }
    absl::StrAppendFormat(&svg,
                          "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" "
                          "stroke=\"%s\" stroke-width=\"1.8\" points=\"%s\"/>\n"
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s</text>\n",
                          HtmlEscape(series[s].name), Colour(s), pts, left + plot_w + 14,
                          top + 14.0 * s, Colour(s), left + plot_w + 28, top + 14.0 * s + 9,
                          HtmlEscape(series[s].name));
  }
  svg += "</svg>\n";
  return svg;
}

std::string SvgBarChart(const std::string& id, const std::string& title, const std::string& unit,
                        const std::vector<std::pair<std::string, double>>& bars) {
  const double width = 860, row = 22, left = 300, right = 110, top = 30;
  const double height = top + row * std::max<size_t>(1, bars.size()) + 12;
  const double plot_w = width - left - right;
  double max_v = 0;
  for (const auto& [label, v] : bars) max_v = std::max(max_v, v);
  const double v_max = NiceMax(max_v);
  std::string svg = absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n"
      "<text x=\"8\" y=\"18\" class=\"title\">%s</text>\n",
      HtmlEscape(id), width, height, width, height, HtmlEscape(title), HtmlEscape(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = top + row * i;
    const double w = plot_w * bars[i].second / v_max;
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>"
                          "<rect class=\"bar\" data-label=\"%s\" data-value=\"%g\" x=\"%.1f\" "
                          "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s %s</text>\n",
                          left - 6, y + 14, HtmlEscape(bars[i].first), HtmlEscape(bars[i].first),
                          bars[i].second, left, y + 3, std::max(1.0, w), row - 6, Colour(i),
                          left + std::max(1.0, w) + 6, y + 14, Num(bars[i].second),
                          HtmlEscape(unit));
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
  const double step_s = std::max(1e-3, Seconds(load.interval));
  // Pods in order of first appearance.
  std::vector<std::string> pods;
  std::set<std::string> seen;
  for (const auto& interval : load.timeline) {
    for (const auto& [pod, n] : interval) {
      if (seen.insert(pod).second) pods.push_back(pod);
    }
  }
  std::vector<ChartSeries> per_pod;
  for (const std::string& pod : pods) {
    ChartSeries s{pod, {}};
    for (const auto& interval : load.timeline) {
      auto it = interval.find(pod);
      s.values.push_back((it == interval.end() ? 0 : it->second) / step_s);
    }
    per_pod.push_back(std::move(s));
  }
  std::vector<ChartMarker> markers;
  for (const StepResult& s : report.steps) markers.push_back({Seconds(s.step.at), s.step.action});
  ChartSeries failed{"failed", {}};
  for (int64_t n : load.failed_timeline) failed.values.push_back(n / step_s);
  std::vector<std::pair<std::string, double>> convergence;
  for (const StepResult& s : report.steps) {
    convergence.push_back({absl::StrCat(Num(Seconds(s.step.at)), "s ", s.step.action),
                           s.converged_after == absl::InfiniteDuration()
                               ? 0
                               : absl::ToDoubleMilliseconds(s.converged_after)});
  }

  std::string body = absl::StrCat("<h1>kube-grpc scenario: ", HtmlEscape(report.name), "</h1>\n");
  const BalancerOptions& b = scenario.balancer;
  absl::StrAppend(
      &body, "<p>", Num(Seconds(scenario.duration)), " s of load at ", Num(scenario.load.rate),
      " calls/s (", scenario.load.threads, " threads, ",
      scenario.load.retry ? "retry helper" : "no retries", ") through a <code>Balancer</code> ",
      "over a fake cluster on loopback. Discovery: ", b.discovery.watch ? "watch" : "polling",
      ", resync every ", absl::FormatDuration(b.discovery.resync_interval), "; health checks: ",
      b.pool.health.mode == HealthCheckOptions::Mode::kNone
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
  absl::StrAppend(&body, "<h2>Calls per pod over time</h2>\n",
                  SvgLineChart("calls-per-pod", "Calls per second, per pod", "calls/s", step_s,
                               per_pod, markers));
  absl::StrAppend(
      &body, "<h2>Failed calls over time</h2>\n",
      SvgLineChart("failures", "Failed calls per second", "failed/s", step_s, {failed}, markers));
  absl::StrAppend(&body,
                  "<h2>Convergence</h2>\n<p>After each step: the time until the pool "
                  "picked exactly the pods the API reported ready (0 = never, see the "
                  "table).</p>\n",
                  SvgBarChart("convergence", "Convergence after each step", "ms", convergence));
  absl::StrAppend(&body,
                  "<table id=\"steps\">\n<tr><th>at</th><th>step</th><th>took</th>"
                  "<th>converged after</th></tr>\n");
  for (const StepResult& s : report.steps) {
    absl::StrAppend(
        &body, "<tr><td>", Num(Seconds(s.step.at)), " s</td><td>", HtmlEscape(s.step.action),
        "</td><td>", absl::FormatDuration(absl::Trunc(s.took, absl::Microseconds(1))), "</td><td>",
        s.converged_after == absl::InfiniteDuration()
            ? "never"
            : absl::FormatDuration(absl::Trunc(s.converged_after, absl::Microseconds(1))),
        "</td></tr>\n");
  }
  absl::StrAppend(&body,
                  "</table>\n<h2>Calls per pod</h2>\n<table id=\"by-pod\">\n"
                  "<tr><th>pod</th><th>calls</th></tr>\n");
  for (const auto& [pod, n] : load.by_pod) {
    absl::StrAppend(&body, "<tr><td>", HtmlEscape(pod), "</td><td>", n, "</td></tr>\n");
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
