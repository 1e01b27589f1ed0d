// File: tools/bench/scale_bench.h
// -----------------------------------------------------------------------------
// kube_bench's scale section: what a change costs in discovery and the pool as
// a Service grows (500, 5,000, 20,000 endpoints), beside the algorithm kube-grpc
// had before it was incremental (a full rebuild per event), kept here as the
// baseline; and fakek8s's endpoint controller at 20,000 pods. scale_bench.cc
// says what each figure measures.
//
// Thread-safety: a function; runs its own threads.

#ifndef TOOLS_BENCH_SCALE_BENCH_H_
#define TOOLS_BENCH_SCALE_BENCH_H_

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kubegrpc::bench {

// `quick`: smaller sizes and a few trials (CI checks the section still runs).
absl::StatusOr<nlohmann::json> ScaleSection(bool quick);

}  // namespace kubegrpc::bench

#endif  // TOOLS_BENCH_SCALE_BENCH_H_
