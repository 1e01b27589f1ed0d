#include "fakek8s/selector.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

bool LabelsMatch(const std::string& selector, const json& labels) {
  absl::StatusOr<LabelSelector> s = LabelSelector::Parse(selector);
  EXPECT_TRUE(s.ok()) << selector << ": " << s.status();
  return s.ok() && s->Matches(labels);
}

TEST(LabelSelectorTest, EqualityForms) {
  json labels = {{"app", "web"}, {"tier", "front"}};
  EXPECT_TRUE(LabelsMatch("", labels));
  EXPECT_TRUE(LabelsMatch("app=web", labels));
  EXPECT_TRUE(LabelsMatch("app==web", labels));
  EXPECT_TRUE(LabelsMatch(" app = web , tier=front ", labels));
  EXPECT_FALSE(LabelsMatch("app=db", labels));
  EXPECT_TRUE(LabelsMatch("app!=db", labels));
  EXPECT_FALSE(LabelsMatch("app!=web", labels));
  EXPECT_TRUE(LabelsMatch("missing!=x", labels));  // != matches an absent key
  EXPECT_TRUE(LabelsMatch("kubernetes.io/service-name!=x", labels));
}

TEST(LabelSelectorTest, SetAndExistenceForms) {
  json labels = {{"app", "web"}, {"kubernetes.io/service-name", "web"}};
  EXPECT_TRUE(LabelsMatch("app in (db, web)", labels));
  EXPECT_FALSE(LabelsMatch("app in (db)", labels));
  EXPECT_TRUE(LabelsMatch("app notin (db)", labels));
  EXPECT_FALSE(LabelsMatch("app notin (db,web)", labels));
  EXPECT_TRUE(LabelsMatch("missing notin (a)", labels));
  EXPECT_TRUE(LabelsMatch("app", labels));
  EXPECT_FALSE(LabelsMatch("!app", labels));
  EXPECT_TRUE(LabelsMatch("!missing", labels));
  EXPECT_TRUE(LabelsMatch("kubernetes.io/service-name=web,app in (web),!x", labels));
  EXPECT_FALSE(LabelsMatch("app", nullptr));
  EXPECT_TRUE(LabelsMatch("!app", nullptr));
}

TEST(LabelSelectorTest, FromMapMatchesAll) {
  LabelSelector s = LabelSelector::FromMap({{"app", "web"}, {"v", "2"}});
  EXPECT_TRUE(s.Matches({{"app", "web"}, {"v", "2"}, {"x", "y"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}}));
}

TEST(LabelSelectorTest, BadSyntaxIsInvalidArgument) {
  for (const char* bad :
       {"app in (a", "app in ()", "=web", "app=we b", "a b c", "app in a,b)", "-app=x", "app=x,",
        "app="
        "x"
        "y/z"}) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("unable to parse requirement")) << bad;
  }
}

TEST(FieldSelectorTest, MatchesDottedPaths) {
  const std::vector<std::string> fields = {"metadata.name", "status.phase"};
  json pod = {{"metadata", {{"name", "web-1"}}}, {"status", {{"phase", "Running"}}}};
  auto s = FieldSelector::Parse("metadata.name=web-1", fields);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Matches(pod));
  s = FieldSelector::Parse("metadata.name==web-2", fields);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->Matches(pod));
  s = FieldSelector::Parse("status.phase!=Failed,metadata.name=web-1", fields);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Matches(pod));
}

TEST(FieldSelectorTest, UnsupportedFieldAndBadSyntax) {
  auto s = FieldSelector::Parse("spec.foo=x", {"metadata.name"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("field label not supported: spec.foo"));
  s = FieldSelector::Parse("metadata.name", {"metadata.name"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fakek8s
