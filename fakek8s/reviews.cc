#include "fakek8s/reviews.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/http_util.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using internal::WriteError;
using internal::WriteJson;

// What every authenticated user may do whatever its rules (the real
// system:basic-user, system:discovery and system:public-info-viewer roles).
json BaseResourceRules() {
  return json::array({{{"verbs", {"create"}},
                       {"apiGroups", {"authorization.k8s.io"}},
                       {"resources", {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}}},
                      {{"verbs", {"create"}},
                       {"apiGroups", {"authentication.k8s.io"}},
                       {"resources", {"selfsubjectreviews"}}}});
}

json BaseNonResourceRules() {
  return json::array({{{"verbs", {"get"}},
                       {"nonResourceURLs",
                        {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                         "/openapi/*", "/readyz", "/version", "/version/"}}}});
}

json AccessReview(const AccessControl& access, const Identity& who, json review) {
  const json spec = review.value("spec", json::object());
  const bool resource = spec.is_object() && spec.contains("resourceAttributes") &&
                        spec["resourceAttributes"].is_object();
  bool allowed = false;
  if (resource) {
    const json& a = spec["resourceAttributes"];
    std::string what = a.value("resource", "");
    const std::string sub = a.value("subresource", "");
    if (!sub.empty()) what = absl::StrCat(what, "/", sub);
    allowed = access.Authorized(who, a.value("verb", ""), a.value("group", ""), what,
                                a.value("namespace", ""), a.value("name", ""));
  } else if (spec.is_object() && spec.contains("nonResourceAttributes") &&
             spec["nonResourceAttributes"].is_object()) {
    const json& a = spec["nonResourceAttributes"];
    allowed = access.AuthorizedPath(who, a.value("verb", ""), a.value("path", ""));
  }
  json status = {{"allowed", allowed}};
  if (allowed) {
    status["reason"] = access.RulesFor(who, "").has_value()
                           ? absl::StrCat("fakek8s: allowed by a rule of user \"", who.user, "\"")
                           : "fakek8s: no rules limit this user";
  }
  review["status"] = std::move(status);
  return review;
}

json RulesReview(const AccessControl& access, const Identity& who, json review) {
  const std::string ns = review.value("spec", json::object()).value("namespace", "");
  json resource_rules = json::array();
  json path_rules = json::array();
  std::optional<std::vector<RbacRule>> rules = access.RulesFor(who, ns);
  if (!rules.has_value()) {
    resource_rules.push_back({{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}});
    path_rules.push_back({{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}});
  } else {
    for (const RbacRule& rule : *rules) {
      json r = {
          {"verbs", rule.verbs},
          {"apiGroups", rule.api_groups.empty() ? std::vector<std::string>{"*"} : rule.api_groups},
          {"resources", rule.resources}};
      if (!rule.resource_names.empty()) r["resourceNames"] = rule.resource_names;
      resource_rules.push_back(std::move(r));
    }
    if (!who.anonymous()) {
      for (json& r : BaseResourceRules()) resource_rules.push_back(std::move(r));
    }
  }
  for (json& r : BaseNonResourceRules()) path_rules.push_back(std::move(r));
  review["status"] = {{"resourceRules", std::move(resource_rules)},
                      {"nonResourceRules", std::move(path_rules)},
                      {"incomplete", false}};
  return review;
}

// --- Protobuf -------------------------------------------------------------------
// kubectl's typed clients send reviews as Kubernetes protobuf: the magic
// "k8s\0", then a runtime.Unknown {1: typeMeta, 2: raw (the object)}. The
// review messages are small: read the fields they have, skip the rest.

class WireReader {
 public:
  explicit WireReader(absl::string_view data) : data_(data) {}
  // The next field: its number, and its bytes for length-delimited ones.
  bool Next(int* field, absl::string_view* bytes) {
    while (!data_.empty()) {
      uint64_t key;
      if (!Varint(&key)) return false;
      *field = static_cast<int>(key >> 3);
      switch (key & 7) {
        case 0: {
          uint64_t ignored;
          if (!Varint(&ignored)) return false;
          continue;
        }
        case 1:
          if (data_.size() < 8) return false;
          data_.remove_prefix(8);
          continue;
        case 5:
          if (data_.size() < 4) return false;
          data_.remove_prefix(4);
          continue;
        case 2: {
          uint64_t n;
          if (!Varint(&n) || n > data_.size()) return false;
          *bytes = data_.substr(0, n);
          data_.remove_prefix(n);
          return true;
        }
        default:
          return false;
      }
    }
    return false;
  }

 private:
  bool Varint(uint64_t* out) {
    *out = 0;
    for (int shift = 0; shift < 64 && !data_.empty(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(data_.front());
      data_.remove_prefix(1);
      *out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  absl::string_view data_;
};

// The length-delimited field `number` of `message` ("" if absent).
absl::string_view Sub(absl::string_view message, int number) {
  WireReader reader(message);
  int field;
  absl::string_view bytes;
  absl::string_view found;
  while (reader.Next(&field, &bytes)) {
    if (field == number) found = bytes;
  }
  return found;
}

// String fields by number, as JSON keys.
json Strings(absl::string_view message, const std::vector<std::pair<int, const char*>>& names) {
  json out = json::object();
  for (const auto& [number, name] : names) {
    absl::string_view v = Sub(message, number);
    if (!v.empty()) out[name] = std::string(v);
  }
  return out;
}

// A protobuf review, as the JSON object ServeReview reads; nullopt if the
// body is not a Kubernetes protobuf envelope.
std::optional<json> FromProtobuf(absl::string_view body, Resource resource) {
  constexpr absl::string_view kMagic("k8s\0", 4);
  if (!absl::StartsWith(body, kMagic)) return std::nullopt;
  const absl::string_view object = Sub(body.substr(kMagic.size()), 2);
  const absl::string_view spec = Sub(object, 2);
  json review = {{"spec", json::object()}};
  if (resource == Resource::kSelfSubjectAccessReviews) {
    const absl::string_view attributes = Sub(spec, 1);
    const absl::string_view path = Sub(spec, 2);
    if (!attributes.empty()) {
      review["spec"]["resourceAttributes"] = Strings(attributes, {{1, "namespace"},
                                                                  {2, "verb"},
                                                                  {3, "group"},
                                                                  {4, "version"},
                                                                  {5, "resource"},
                                                                  {6, "subresource"},
                                                                  {7, "name"}});
    } else if (!path.empty()) {
      review["spec"]["nonResourceAttributes"] = Strings(path, {{1, "path"}, {2, "verb"}});
    }
  } else if (resource == Resource::kSelfSubjectRulesReviews) {
    review["spec"] = Strings(spec, {{1, "namespace"}});
  }
  return review;
}

}  // namespace

void ServeReview(const AccessControl& access, const Identity& who, const Route& route,
                 const httplib::Request& req, httplib::Response& res) {
  const ResourceInfo& info = *route.info;
  json review;
  if (std::optional<json> decoded = FromProtobuf(req.body, info.resource)) {
    review = *std::move(decoded);
  } else {
    review = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  }
  if (review.is_discarded() || !review.is_object()) {
    return WriteError(
        res, BadRequest(absl::StrCat("the body of a ", info.kind, " must be a JSON object")));
  }
  review["apiVersion"] = info.ApiVersion();
  review["kind"] = info.kind;
  if (!review.contains("metadata") || !review["metadata"].is_object()) {
    review["metadata"] = json::object();
  }
  review["metadata"]["creationTimestamp"] = nullptr;
  switch (info.resource) {
    case Resource::kSelfSubjectAccessReviews: {
      const json spec = review.value("spec", json::object());
      const bool resource = spec.is_object() && spec.contains("resourceAttributes");
      const bool path = spec.is_object() && spec.contains("nonResourceAttributes");
      if (resource == path) {
        return WriteError(res,
                          Invalid(info.kind, "",
                                  "spec: Invalid value: exactly one of nonResourceAttributes or "
                                  "resourceAttributes must be specified"));
      }
      return WriteJson(res, 201, AccessReview(access, who, std::move(review)));
    }
    case Resource::kSelfSubjectRulesReviews:
      return WriteJson(res, 201, RulesReview(access, who, std::move(review)));
    case Resource::kSelfSubjectReviews:
      review["status"] = {{"userInfo", {{"username", who.user}, {"groups", who.groups}}}};
      return WriteJson(res, 201, review);
    default:
      return WriteError(res, ApiError(405, "MethodNotAllowed",
                                      "the server does not allow this method on the requested "
                                      "resource"));
  }
}

}  // namespace fakek8s
