#include "kubegrpc/internal/watch_stream.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::internal {
namespace {

using ::testing::HasSubstr;

std::string SliceEvent(const std::string& type, const std::string& name, const std::string& rv) {
  return absl::StrCat(R"({"type":")", type, R"(","object":{"metadata":{"name":")", name,
                      R"(","resourceVersion":")", rv,
                      R"("},"endpoints":[{"addresses":["10.0.0.1"]}]}})", "\n");
}

// The names of the events decoded from `body` fed in pieces of `piece` bytes.
std::vector<std::string> Decode(const std::string& body, size_t piece, absl::Status* status) {
  WatchStreamDecoder decoder(EndpointSource::kEndpointSlices, 1 << 20, "watching demo/web");
  std::vector<std::string> names;
  for (size_t i = 0; i < body.size(); i += piece) {
    *status = decoder.Feed(absl::string_view(body).substr(i, piece),
                           [&](const WatchEvent& e) { names.push_back(e.object.name); });
    if (!status->ok()) return names;
  }
  *status = decoder.Finish();
  return names;
}

TEST(WatchStreamDecoderTest, SameEventsHoweverTheStreamIsCut) {
  const std::string body = SliceEvent("ADDED", "a", "1") + "\n  \n" +
                           SliceEvent("MODIFIED", "b", "2") + SliceEvent("DELETED", "c", "3");
  for (size_t piece : {1u, 2u, 7u, 64u, 100000u}) {
    absl::Status status;
    EXPECT_THAT(Decode(body, piece, &status), ::testing::ElementsAre("a", "b", "c")) << piece;
    EXPECT_TRUE(status.ok()) << status;
  }
}

TEST(WatchStreamDecoderTest, EndingInsideAnEventIsUnavailable) {
  std::string body = SliceEvent("ADDED", "a", "1") + SliceEvent("ADDED", "b", "2");
  body.resize(body.size() - 5);
  absl::Status status;
  EXPECT_THAT(Decode(body, 3, &status), ::testing::ElementsAre("a"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("watching demo/web"));
}

TEST(WatchStreamDecoderTest, BadLineEndsTheStreamNamingTheWatch) {
  absl::Status status;
  EXPECT_THAT(
      Decode(SliceEvent("ADDED", "a", "1") + "<html>oops</html>\n" + SliceEvent("ADDED", "b", "2"),
             5, &status),
      ::testing::ElementsAre("a"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("(watching demo/web)"));
}

TEST(WatchStreamDecoderTest, OverlongLineIsRejectedBeforeItIsBuffered) {
  WatchStreamDecoder decoder(EndpointSource::kEndpointSlices, 1000, "watching demo/web");
  const std::string chunk(400, 'x');
  EXPECT_TRUE(decoder.Feed(chunk, [](const WatchEvent&) {}).ok());
  EXPECT_TRUE(decoder.Feed(chunk, [](const WatchEvent&) {}).ok());
  absl::Status s = decoder.Feed(chunk, [](const WatchEvent&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("larger than 1000 bytes"));
  // The decoder stays failed.
  EXPECT_EQ(decoder.Feed("\n", [](const WatchEvent&) {}).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(decoder.Finish().code(), absl::StatusCode::kResourceExhausted);
}

TEST(WatchStreamDecoderTest, OverlongLineInOneChunk) {
  WatchStreamDecoder decoder(EndpointSource::kEndpointSlices, 100, "w");
  std::string chunk = std::string(200, ' ') + "\n";
  EXPECT_EQ(decoder.Feed(chunk, [](const WatchEvent&) {}).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(WatchStreamDecoderTest, LineOfExactlyTheLimitIsAccepted) {
  std::string line = SliceEvent("ADDED", "a", "1");
  line.pop_back();
  WatchStreamDecoder decoder(EndpointSource::kEndpointSlices, line.size(), "w");
  int events = 0;
  EXPECT_TRUE(decoder.Feed(line.substr(0, 10), [&](const WatchEvent&) { ++events; }).ok());
  EXPECT_TRUE(decoder.Feed(line.substr(10) + "\n", [&](const WatchEvent&) { ++events; }).ok());
  EXPECT_EQ(events, 1);
}

}  // namespace
}  // namespace kubegrpc::internal
