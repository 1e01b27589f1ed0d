// The arithmetic of passive outlier detection (gRPC A50's rules).

#include "kubegrpc/internal/outlier.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

CallCounters::Interval C(int64_t successes, int64_t failures) { return {successes, failures}; }

TEST(OutlierTest, SuccessRateMarksTheEndpointFarBelowTheOthers) {
  OutlierDetectionOptions::SuccessRate rule;  // 1.9 stdev, 5 hosts, 100 calls
  std::vector<CallCounters::Interval> counts(9, C(100, 0));
  counts.push_back(C(10, 90));
  EXPECT_THAT(SuccessRateOutliers(counts, rule), ElementsAre(9u));
}

TEST(OutlierTest, SuccessRateNeedsEnoughHostsWithEnoughCalls) {
  OutlierDetectionOptions::SuccessRate rule;
  std::vector<CallCounters::Interval> counts = {C(100, 0), C(100, 0), C(100, 0), C(0, 100)};
  EXPECT_THAT(SuccessRateOutliers(counts, rule), IsEmpty());  // 4 hosts < 5
  counts = {C(100, 0), C(100, 0), C(100, 0), C(100, 0), C(0, 99)};
  EXPECT_THAT(SuccessRateOutliers(counts, rule), IsEmpty());  // the bad one has 99 calls
  rule.request_volume = 99;
  EXPECT_THAT(SuccessRateOutliers(counts, rule), ElementsAre(4u));
}

TEST(OutlierTest, EqualRatesMarkNobody) {
  OutlierDetectionOptions::SuccessRate rule;
  std::vector<CallCounters::Interval> counts(6, C(50, 50));
  EXPECT_THAT(SuccessRateOutliers(counts, rule), IsEmpty());
}

TEST(OutlierTest, FailurePercentageMarksThoseAboveTheThreshold) {
  OutlierDetectionOptions::FailurePercentage rule;  // 85 %, 5 hosts, 50 calls
  std::vector<CallCounters::Interval> counts = {C(50, 0), C(50, 0), C(50, 0), C(7, 43),  // 86 %
                                                C(8, 42),                                // 84 %
                                                C(0, 10)};  // too few calls
  EXPECT_THAT(FailurePercentageOutliers(counts, rule), ElementsAre(3u));
}

TEST(OutlierTest, EjectionTimeGrowsWithRepeatsUpToTheCap) {
  OutlierDetectionOptions o;  // 30 s base, 300 s max
  EXPECT_EQ(EjectionTime(o, 1), absl::Seconds(30));
  EXPECT_EQ(EjectionTime(o, 3), absl::Seconds(90));
  EXPECT_EQ(EjectionTime(o, 50), absl::Seconds(300));
  o.max_ejection_time = absl::Seconds(10);  // below the base: the base is the cap
  EXPECT_EQ(EjectionTime(o, 4), absl::Seconds(30));
}

TEST(OutlierTest, MaxEjectionPercentAlwaysLetsTheFirstGo) {
  EXPECT_TRUE(MayEject(0, 3, 10));    // 0 % < 10 %
  EXPECT_FALSE(MayEject(1, 3, 10));   // 33 % >= 10 %
  EXPECT_TRUE(MayEject(1, 20, 10));   // 5 %
  EXPECT_FALSE(MayEject(2, 20, 10));  // 10 %
  EXPECT_FALSE(MayEject(0, 5, 0));    // 0 %: never
  EXPECT_TRUE(MayEject(4, 5, 100));
  EXPECT_FALSE(MayEject(0, 0, 100));
}

TEST(OutlierTest, ValidationNamesTheField) {
  OutlierDetectionOptions o;
  EXPECT_TRUE(ValidateOutlierDetection(o).ok());
  o.max_ejection_percent = 101;
  EXPECT_THAT(std::string(ValidateOutlierDetection(o).message()),
              ::testing::HasSubstr("max_ejection_percent is 101"));
  o = {};
  o.interval = absl::ZeroDuration();
  EXPECT_THAT(std::string(ValidateOutlierDetection(o).message()),
              ::testing::HasSubstr("interval is 0"));
  o = {};
  o.failure_codes = {grpc::StatusCode::OK};
  EXPECT_FALSE(ValidateOutlierDetection(o).ok());
  o.enabled = false;  // off: nothing else is read
  EXPECT_TRUE(ValidateOutlierDetection(o).ok());
}

}  // namespace
}  // namespace kubegrpc::internal
