// File: testing/matchers.h
// -----------------------------------------------------------------------------
// gMock matchers and assertions for kube-grpc tests.
//
//   EXPECT_THAT(balancer->Connect("web:80").status(), IsOk());
//   EXPECT_THAT(handle.Next().status(), StatusIs(absl::StatusCode::kUnavailable));
//   ExpectRoundRobin(report.by_pod, {"web-0", "web-1", "web-2"}, /*tolerance=*/1);

#ifndef TESTING_MATCHERS_H_
#define TESTING_MATCHERS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::testing {

namespace internal_matchers {
inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal_matchers

// Matches an OK absl::Status or absl::StatusOr.
MATCHER(IsOk, "is OK") {
  const absl::Status& s = internal_matchers::GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

// Matches a status (or StatusOr) with the given code.
MATCHER_P(StatusIs, code, absl::StrCat("has code ", absl::StatusCodeToString(code))) {
  const absl::Status& s = internal_matchers::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

// Expects `counts` (calls per pod) to cover exactly `pods`, each within
// `tolerance` of the others, reporting at the caller's line.
#define ExpectRoundRobin(counts, pods, tolerance) \
  ::kubegrpc::testing::ExpectRoundRobinImpl(counts, pods, tolerance, __FILE__, __LINE__)

inline void ExpectRoundRobinImpl(const std::map<std::string, int64_t>& counts,
                                 const std::vector<std::string>& pods, int64_t tolerance,
                                 const char* file, int line) {
  ::testing::ScopedTrace trace(file, line, "ExpectRoundRobin");
  std::vector<std::string> seen;
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& [pod, n] : counts) {
    seen.push_back(pod);
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  std::vector<std::string> want = pods;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want) << "pods that answered";
  EXPECT_LE(hi - lo, tolerance) << "most and fewest calls per pod: " << hi << " and " << lo;
}

}  // namespace kubegrpc::testing

#endif  // TESTING_MATCHERS_H_
