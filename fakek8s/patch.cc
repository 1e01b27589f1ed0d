#include "fakek8s/patch.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

// Lists merged by key in a strategic merge patch (the few fakek8s objects use).
const std::map<std::string, std::string>& MergeKeys() {
  static const auto* const kKeys = new std::map<std::string, std::string>{
      {"conditions", "type"},     {"containers", "name"}, {"ports", "containerPort"},
      {"ownerReferences", "uid"}, {"env", "name"},        {"volumes", "name"}};
  return *kKeys;
}

json StrategicMerge(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (absl::StartsWith(key, "$")) continue;  // directives such as $setElementOrder
    if (value.is_null()) {
      target.erase(key);
      continue;
    }
    auto merge_key = MergeKeys().find(key);
    if (value.is_array() && merge_key != MergeKeys().end() && target.contains(key) &&
        target[key].is_array()) {
      json merged = target[key];
      for (const json& item : value) {
        if (!item.is_object() || !item.contains(merge_key->second)) {
          merged.push_back(item);
          continue;
        }
        const bool remove = item.value("$patch", "") == "delete";
        auto same = std::find_if(merged.begin(), merged.end(), [&](const json& e) {
          return e.is_object() && e.contains(merge_key->second) &&
                 e[merge_key->second] == item[merge_key->second];
        });
        if (remove) {
          if (same != merged.end()) merged.erase(same);
        } else if (same != merged.end()) {
          *same = StrategicMerge(*same, item);
        } else {
          merged.push_back(StrategicMerge(json::object(), item));
        }
      }
      target[key] = std::move(merged);
    } else if (value.is_object()) {
      target[key] = StrategicMerge(target.contains(key) ? target[key] : json::object(), value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

}  // namespace

absl::Status ApplyPatch(const std::string& content_type, const json& patch, json& object) {
  if (absl::StartsWith(content_type, "application/json-patch+json")) {
    if (!patch.is_array()) return BadRequest("a JSON patch must be an array of operations");
    try {
      object = object.patch(patch);
    } catch (const json::exception& e) {
      return ApiError(422, "Invalid",
                      absl::StrCat("the JSON patch could not be applied: ", e.what()));
    }
    return absl::OkStatus();
  }
  if (!patch.is_object()) return BadRequest("a merge patch must be a JSON object");
  if (absl::StartsWith(content_type, "application/merge-patch+json")) {
    object.merge_patch(patch);
    return absl::OkStatus();
  }
  if (absl::StartsWith(content_type, "application/strategic-merge-patch+json") ||
      absl::StartsWith(content_type, "application/apply-patch")) {
    object = StrategicMerge(std::move(object), patch);
    return absl::OkStatus();
  }
  return ApiError(415, "UnsupportedMediaType",
                  absl::StrCat("the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, "
                               "application/strategic-merge-patch+json; got \"",
                               content_type, "\""));
}

}  // namespace fakek8s
