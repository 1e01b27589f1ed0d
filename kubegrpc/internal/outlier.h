// File: kubegrpc/internal/outlier.h
// -----------------------------------------------------------------------------
// The arithmetic of passive outlier detection (gRPC A50), apart from the pool
// that applies it: which endpoints an interval's call counts mark as outliers,
// how long an ejection lasts, and whether one more may be ejected.
//
// Thread-safety: pure functions.

#ifndef KUBEGRPC_INTERNAL_OUTLIER_H_
#define KUBEGRPC_INTERNAL_OUTLIER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "kubegrpc/picker.h"
#include "kubegrpc/pool_options.h"

namespace kubegrpc::internal {

// The endpoints (indices into `counts`) whose success rate in the interval is
// below mean - stdev x stdev_factor / 1000, among those with at least
// request_volume calls; none if fewer than minimum_hosts have that many.
std::vector<size_t> SuccessRateOutliers(const std::vector<CallCounters::Interval>& counts,
                                        const OutlierDetectionOptions::SuccessRate& rule);
// The endpoints whose failure percentage in the interval is above the
// threshold, among those with at least request_volume calls; none if fewer
// than minimum_hosts have that many.
std::vector<size_t> FailurePercentageOutliers(
    const std::vector<CallCounters::Interval>& counts,
    const OutlierDetectionOptions::FailurePercentage& rule);
// How long the `ejections`-th ejection in a row lasts (1 = the first).
absl::Duration EjectionTime(const OutlierDetectionOptions& options, int ejections);
// Whether one more of `total` endpoints may be ejected while `ejected` are:
// A50's rule, ejected < max_percent % of total (so with any max_percent above
// 0 the first one may be).
bool MayEject(size_t ejected, size_t total, int max_percent);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_OUTLIER_H_
