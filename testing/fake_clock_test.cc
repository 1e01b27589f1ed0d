// FakeClock: sleeps jump, alarms run at their times in order, and what a sleep
// records.

#include "testing/fake_clock.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::testing {
namespace {

using ::testing::ElementsAre;

TEST(FakeClockTest, AlarmsRunAtTheirTimesInOrderWhileASleepPassesThem) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  std::vector<std::string> log;
  auto at = [&](const char* what) {
    return [&, what] {
      log.push_back(absl::StrCat(what, "@", absl::ToInt64Milliseconds(clock.Now() - start)));
    };
  };
  clock.After(absl::Seconds(2), at("b"));
  clock.After(absl::Seconds(1), at("a"));
  clock.After(absl::Seconds(2), at("c"));  // a tie runs in scheduling order
  clock.After(absl::Seconds(1), [&] { clock.After(absl::Milliseconds(500), at("nested")); });
  EXPECT_TRUE(clock.SleepUntil(start + absl::Seconds(3), nullptr));
  EXPECT_THAT(log, ElementsAre("a@1000", "nested@1500", "b@2000", "c@2000"));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(3)));
}

TEST(FakeClockTest, AdvanceRunsAlarmsButIsNotASleep) {
  FakeClock clock;
  int ran = 0;
  clock.After(absl::Seconds(1), [&] { ++ran; });
  clock.Advance(absl::Milliseconds(999));
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(clock.NextAlarm(), clock.Now() + absl::Milliseconds(1));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(clock.sleeps().empty());
  EXPECT_EQ(clock.NextAlarm(), absl::InfiniteFuture());
}

TEST(FakeClockTest, ACancelledSleepDoesNothing) {
  FakeClock clock;
  Cancellation cancel;
  cancel.Cancel();
  const absl::Time before = clock.Now();
  EXPECT_FALSE(clock.SleepUntil(before + absl::Hours(1), &cancel));
  EXPECT_EQ(clock.Now(), before);
}

}  // namespace
}  // namespace kubegrpc::testing
