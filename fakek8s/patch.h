// File: fakek8s/patch.h
// -----------------------------------------------------------------------------
// PATCH bodies applied to a stored object: JSON patch (RFC 6902), JSON merge
// patch (RFC 7386) and Kubernetes' strategic merge patch (strategic_merge.h,
// lists merged by the keys schema.h declares for the resource). Server-side
// apply (application/apply-patch+yaml) is apply.h's.
// Errors: BadRequest for a body of the wrong shape, 422 Invalid for a JSON
// patch that cannot be applied, 415 for an unknown content type.
// Thread-safe (functions).

#ifndef FAKEK8S_PATCH_H_
#define FAKEK8S_PATCH_H_

#include <string>

#include "absl/status/status.h"
#include "fakek8s/resources.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

// Applies `patch` (of the PATCH request's `content_type`) to `object`, an
// object of `resource`.
absl::Status ApplyPatch(const std::string& content_type, const nlohmann::json& patch,
                        Resource resource, nlohmann::json& object);

}  // namespace fakek8s

#endif  // FAKEK8S_PATCH_H_
