#include "kubegrpc/internal/redact.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kSecrets = {"s3cr3t-TOKEN-0123456789"};

TEST(RedactTest, WholeTokensAndTheirCutPrefixesGo) {
  EXPECT_EQ(RedactCredentials("a s3cr3t-TOKEN-0123456789 b", kSecrets), "a <redacted> b");
  EXPECT_EQ(RedactCredentials("quoted: s3cr3t-TOK", kSecrets), "quoted: <redacted>");
  EXPECT_EQ(RedactCredentials("s3cr3t is a word", kSecrets), "s3cr3t is a word");  // < 8
}

TEST(RedactTest, AuthorizationAndBearerValuesGoWhateverTheyAre) {
  EXPECT_EQ(RedactCredentials("Authorization: Bearer abc.def\nnext", {}),
            "Authorization: Bearer <redacted>\nnext");
  EXPECT_EQ(RedactCredentials("authorization: Basic dXNlcjpwYXNz", {}),
            "authorization: Basic <redacted>");
  EXPECT_EQ(RedactCredentials("sent bearer eyJhbGciOi, then", {}), "sent bearer <redacted>, then");
  EXPECT_EQ(RedactCredentials("nothing here", {}), "nothing here");
}

TEST(RedactTest, StatusKeepsCodeAndPayloads) {
  absl::Status s = absl::UnavailableError("echo: Bearer zzz");
  s.SetPayload("type.test/p", absl::Cord("x"));
  absl::Status r = RedactCredentials(s, {});
  EXPECT_EQ(r.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.message(), "echo: Bearer <redacted>");
  EXPECT_TRUE(r.GetPayload("type.test/p").has_value());
}

}  // namespace
}  // namespace kubegrpc::internal
