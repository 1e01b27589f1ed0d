// File: fakek8s/strategic_merge.h
// -----------------------------------------------------------------------------
// Kubernetes' strategic merge patch (what `kubectl apply`, `edit` and `patch`
// send by default), driven by schema.h:
//   - objects merge key by key; a null value deletes the key;
//   - a list whose field declares patchStrategy "merge" merges: lists of objects
//     by their patchMergeKey (Service ports by `port`, containers by `name`, ...),
//     lists of strings as sets; every other list is replaced;
//   - directives: `$patch: replace | delete | merge` (on an object or as a list
//     item), `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>` and
//     `$retainKeys`.
// Ordering with $setElementOrder: the items the directive names take its order,
// in the positions such items held; items only the server has stay where they
// are.
// Errors: InvalidArgument (a 400 to the client) naming the field, for a patch
// of the wrong shape (an item without its merge key, a directive that is not a
// list). Thread-safe (functions).

#ifndef FAKEK8S_STRATEGIC_MERGE_H_
#define FAKEK8S_STRATEGIC_MERGE_H_

#include "absl/status/statusor.h"
#include "fakek8s/schema.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

// `original` patched with `patch`; `type` is the object's schema (nullptr: no
// list merges by key, as for an unknown kind).
absl::StatusOr<nlohmann::json> StrategicMergePatch(const nlohmann::json& original,
                                                   const nlohmann::json& patch,
                                                   const schema::TypeDef* type);

}  // namespace fakek8s

#endif  // FAKEK8S_STRATEGIC_MERGE_H_
