#include "fakek8s/patch.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/schema.h"
#include "fakek8s/strategic_merge.h"

namespace fakek8s {

using json = nlohmann::json;

absl::Status ApplyPatch(const std::string& content_type, const json& patch, Resource resource,
                        json& object) {
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
  if (absl::StartsWith(content_type, "application/strategic-merge-patch+json")) {
    absl::StatusOr<json> merged = StrategicMergePatch(object, patch, schema::ForResource(resource));
    if (!merged.ok()) return merged.status();
    object = *std::move(merged);
    return absl::OkStatus();
  }
  return ApiError(415, "UnsupportedMediaType",
                  absl::StrCat("the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, "
                               "application/strategic-merge-patch+json, "
                               "application/apply-patch+yaml; got \"",
                               content_type, "\""));
}

}  // namespace fakek8s
