// File: testing/html_report.h
// -----------------------------------------------------------------------------
// Self-contained HTML reports with inline SVG charts: no script, no network, no
// external file, so a browser opens them offline and they can be attached to a
// CI run. The numbers behind every chart are also embedded as JSON in
// <script type="application/json" id="kube-grpc-data"> for tools and tests.
//
//   std::string page = kubegrpc::testing::ScenarioHtml(scenario, report);
//
// Thread-compatible (pure functions).

#ifndef TESTING_HTML_REPORT_H_
#define TESTING_HTML_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "kubegrpc/internal/html.h"
#include "nlohmann/json.hpp"
#include "testing/scenario.h"

namespace kubegrpc::testing {

struct ChartSeries {
  std::string name;
  std::vector<double> values;  // one per x step; NaN: no point (the line breaks)
};
struct ChartMarker {
  double x = 0;  // in x units (seconds)
  std::string label;
  double until = -1;  // > x: a shaded span from x to `until` (an outage)
};

using ::kubegrpc::internal::HtmlEscape;  // kubegrpc/internal/html.h

// An SVG line chart, one line per series, point i at x = (i + 0.5) * x_step;
// vertical dashed markers with labels (scenario steps), shaded spans. Axis ticks
// fall on round values; with `integer_y` the y ticks are whole numbers (counts).
// `id` becomes the <svg> element's id.
std::string SvgLineChart(const std::string& id, const std::string& title,
                         const std::string& y_label, double x_step,
                         const std::vector<ChartSeries>& series,
                         const std::vector<ChartMarker>& markers, bool integer_y = false);

// An SVG horizontal bar chart, one bar per (label, value); `unit` follows values.
// A NaN value draws no bar and says `nan_label` ("never").
std::string SvgBarChart(const std::string& id, const std::string& title, const std::string& unit,
                        const std::vector<std::pair<std::string, double>>& bars,
                        const std::string& nan_label = "never");

// A number for a label: whole numbers as such, else three significant digits
// (0.05, 1.25, 12.6).
std::string NumberLabel(double v);

// A complete page: <title>, the body HTML, and `data` embedded as JSON.
std::string HtmlPage(const std::string& title, const std::string& body, const nlohmann::json& data);

// A scenario run's summary as JSON (the data behind the HTML report, and what
// tools print): totals, failures, latency, per-pod calls, per-interval calls,
// steps with convergence times, the cluster's events.
nlohmann::json ScenarioSummaryJson(const Scenario& scenario, const ScenarioReport& report);

// The scenario report: summary, calls per pod over time with the steps marked,
// failed calls over time, convergence per step, and the cluster's events.
std::string ScenarioHtml(const Scenario& scenario, const ScenarioReport& report);

}  // namespace kubegrpc::testing

#endif  // TESTING_HTML_REPORT_H_
