// File: fakek8s/apply.h
// -----------------------------------------------------------------------------
// Server-side apply (PATCH with Content-Type application/apply-patch+yaml):
// the applied configuration is merged into the live object field by field, and
// each field manager's fields are recorded in metadata.managedFields in the real
// FieldsV1 format (f:<field>, k:<keys> for items of keyed lists, v:<value> for
// set members, "." for an item itself).
//
// Semantics, and where they are simplified:
//   - an object that does not exist is created from the configuration;
//   - keyed lists (Service ports by port+protocol, containers by name, ...) merge
//     item by item, sets merge as sets, other lists and free-form fields are
//     replaced, as schema.h declares;
//   - a field the same manager applied before and no longer applies is removed,
//     unless another manager owns it too;
//   - a field the configuration sets to a different value than the live object,
//     and which another manager owns, is a conflict (409) unless `force`, which
//     moves it to this manager;
//   - simplified: only appliers own fields. Writes by create, update and the
//     other patch types record no manager (a real server records them as
//     operation Update, and an apply conflicts with them too). `status` is
//     ignored unless the apply is to the status subresource, and then only
//     `status` is applied.
// Errors (absl::Status, api_errors.h): BadRequest for a configuration that is
// not an object of the right kind, lacks fieldManager or a list item's key;
// Conflict (409) listing each conflicting field and its manager.
// Thread-safe (functions).

#ifndef FAKEK8S_APPLY_H_
#define FAKEK8S_APPLY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fakek8s/resources.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

struct ApplyOptions {
  std::string field_manager;  // required
  bool force = false;
  bool status_subresource = false;
  absl::Time now = absl::UnixEpoch();
};

// Checks an applied configuration against the resource and the URL: an object
// whose apiVersion and kind are the resource's and whose name (if set) is
// `name`. Returns it with metadata.name / namespace filled in from the URL.
absl::StatusOr<nlohmann::json> CheckAppliedConfiguration(const nlohmann::json& config,
                                                         const ResourceInfo& info,
                                                         const std::string& ns,
                                                         const std::string& name,
                                                         const ApplyOptions& options);

// The object after applying `config` to `live` (null: the object does not
// exist yet, and is created), with managedFields updated.
absl::StatusOr<nlohmann::json> ServerSideApply(const nlohmann::json& live,
                                               const nlohmann::json& config, Resource resource,
                                               const ApplyOptions& options);

}  // namespace fakek8s

#endif  // FAKEK8S_APPLY_H_
