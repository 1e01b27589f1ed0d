// File: fakek8s/selector.h
// -----------------------------------------------------------------------------
// Kubernetes label and field selectors, as the API server parses them from the
// `labelSelector` and `fieldSelector` query parameters.
//
//   absl::StatusOr<LabelSelector> s = LabelSelector::Parse("app=web,tier in (a,b)");
//   if (s.ok() && s->Matches(pod["metadata"]["labels"])) { ... }
//
// Label grammar: comma-separated requirements, each `k=v`, `k==v`, `k!=v`,
// `k in (a,b)`, `k notin (a,b)`, `k` (exists) or `!k` (does not exist).
// Field grammar: comma-separated `k=v`, `k==v` or `k!=v`, where k is a dotted path
// such as `metadata.name`; which fields are allowed depends on the resource.
//
// Both types are immutable and thread-compatible. Parse errors are InvalidArgument
// with the message a real server would put in its 400 BadRequest Status.

#ifndef FAKEK8S_SELECTOR_H_
#define FAKEK8S_SELECTOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

class LabelSelector {
 public:
  // The empty selector: matches everything.
  LabelSelector() = default;

  // Parses `text`; "" is the empty selector. InvalidArgument on bad syntax.
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);

  // Builds the selector "k1=v1,k2=v2,..." from a Service's `spec.selector` map.
  static LabelSelector FromMap(const nlohmann::json& map);

  // True if `labels` (a JSON object of strings, or null) satisfies every
  // requirement.
  bool Matches(const nlohmann::json& labels) const;

  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  // The empty selector: matches everything.
  FieldSelector() = default;

  // Parses `text`, accepting only the dotted field paths in `supported` (the
  // server answers "field label not supported" for others).
  static absl::StatusOr<FieldSelector> Parse(absl::string_view text,
                                             const std::vector<std::string>& supported);

  // True if every requirement holds for `object` (a missing field reads as "").
  bool Matches(const nlohmann::json& object) const;

  bool empty() const { return requirements_.empty(); }

 private:
  struct Requirement {
    std::string path;
    bool equals;
    std::string value;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace fakek8s

#endif  // FAKEK8S_SELECTOR_H_
