#include "kubegrpc/internal/outlier.h"

#include <algorithm>
#include <cmath>

namespace kubegrpc::internal {

std::vector<size_t> SuccessRateOutliers(const std::vector<CallCounters::Interval>& counts,
                                        const OutlierDetectionOptions::SuccessRate& rule) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i].successes + counts[i].failures >= rule.request_volume) candidates.push_back(i);
  }
  if (candidates.empty() || candidates.size() < static_cast<size_t>(rule.minimum_hosts)) return {};
  auto rate = [&](size_t i) {
    return static_cast<double>(counts[i].successes) /
           static_cast<double>(counts[i].successes + counts[i].failures);
  };
  double mean = 0;
  for (size_t i : candidates) mean += rate(i);
  mean /= static_cast<double>(candidates.size());
  double variance = 0;
  for (size_t i : candidates) variance += (rate(i) - mean) * (rate(i) - mean);
  variance /= static_cast<double>(candidates.size());
  const double threshold = mean - std::sqrt(variance) * (rule.stdev_factor / 1000.0);
  std::vector<size_t> out;
  for (size_t i : candidates) {
    if (rate(i) < threshold) out.push_back(i);
  }
  return out;
}

std::vector<size_t> FailurePercentageOutliers(
    const std::vector<CallCounters::Interval>& counts,
    const OutlierDetectionOptions::FailurePercentage& rule) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i].successes + counts[i].failures >= rule.request_volume) candidates.push_back(i);
  }
  if (candidates.empty() || candidates.size() < static_cast<size_t>(rule.minimum_hosts)) return {};
  std::vector<size_t> out;
  for (size_t i : candidates) {
    const double percent = 100.0 * static_cast<double>(counts[i].failures) /
                           static_cast<double>(counts[i].successes + counts[i].failures);
    if (percent > rule.threshold) out.push_back(i);
  }
  return out;
}

absl::Duration EjectionTime(const OutlierDetectionOptions& options, int ejections) {
  const absl::Duration cap = std::max(options.base_ejection_time, options.max_ejection_time);
  const absl::Duration d = options.base_ejection_time * std::max(1, ejections);
  return std::min(d, cap);
}

bool MayEject(size_t ejected, size_t total, int max_percent) {
  return static_cast<double>(ejected) * 100.0 < static_cast<double>(max_percent) * total;
}

}  // namespace kubegrpc::internal
