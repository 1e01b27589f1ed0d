#include "kubegrpc/internal/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::internal {
namespace {

using ::testing::HasSubstr;

std::string Path(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

TEST(ReadSmallFileTest, ReadsARegularFile) {
  std::ofstream(Path("plain")) << "hello";
  absl::StatusOr<std::string> r =
      ReadSmallFile(Path("plain"), "a file", absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "hello");
}

TEST(ReadSmallFileTest, AFifoWithoutAWriterIsRefusedNotWaitedFor) {
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  absl::Status s =
      ReadSmallFile(Path("fifo"), "the token file", absl::StatusCode::kUnauthenticated).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("not a regular file"));
}

TEST(ReadSmallFileTest, APipeIsReadWhenAllowedAndBoundedWhenItsWriterStalls) {
  // A pipe, as `<(command)` gives one: its writer writes, then closes.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "kind: Config\n", 13), 13);
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(100));
    ::close(fds[1]);
  });
  absl::StatusOr<std::string> r =
      ReadSmallFile(absl::StrCat("/proc/self/fd/", fds[0]), "kubeconfig",
                    absl::StatusCode::kInvalidArgument, kMaxConfigFileBytes, absl::Seconds(60));
  closer.join();
  ::close(fds[0]);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "kind: Config\n");

  // A writer that keeps the pipe open and never finishes: an error, not a hang.
  ASSERT_EQ(::mkfifo(Path("stall").c_str(), 0600), 0);
  int keep = ::open(Path("stall").c_str(), O_RDWR);  // a writer that stays
  ASSERT_GE(keep, 0);
  absl::Status s = ReadSmallFile(Path("stall"), "kubeconfig", absl::StatusCode::kInvalidArgument,
                                 kMaxConfigFileBytes, absl::Milliseconds(100))
                       .status();
  ::close(keep);
  EXPECT_THAT(s.message(), HasSubstr("did not finish"));
}

TEST(ReadSmallFileTest, DevicesAndDirectoriesAreRefused) {
  EXPECT_THAT(
      ReadSmallFile("/dev/zero", "x", absl::StatusCode::kInvalidArgument).status().message(),
      HasSubstr("not a regular file"));
  EXPECT_THAT(ReadSmallFile("/", "x", absl::StatusCode::kInvalidArgument).status().message(),
              HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace kubegrpc::internal
