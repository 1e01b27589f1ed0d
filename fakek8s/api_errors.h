// File: fakek8s/api_errors.h
// -----------------------------------------------------------------------------
// Errors as the Kubernetes API reports them. Inside fakek8s an error is an
// absl::Status whose payload carries the HTTP code and Status `reason`;
// `ToStatusObject` turns any absl::Status into the `kind: Status` body a real API
// server sends (canonical codes without a payload map to the nearest HTTP code).

#ifndef FAKEK8S_API_ERRORS_H_
#define FAKEK8S_API_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

// An error with an explicit HTTP code and Status reason ("NotFound", "Expired"...).
absl::Status ApiError(int http_code, absl::string_view reason, absl::string_view message);

// The HTTP code an error is answered with (200 for OK).
int HttpCode(const absl::Status& status);

// The Status object for `status` (kind Status, apiVersion v1, status Failure,
// message, reason, code; plus details {name, kind, group} when given).
nlohmann::json ToStatusObject(const absl::Status& status, const nlohmann::json& details = nullptr);

// `status` carrying the Status `details` (causes, retryAfterSeconds, ...) that
// ToStatusObject puts in the body when the caller passes none.
absl::Status WithDetails(absl::Status status, const nlohmann::json& details);

// The canonical errors of the API, with the real server's message shapes.
absl::Status NotFound(absl::string_view qualified_resource, absl::string_view name);
absl::Status AlreadyExists(absl::string_view qualified_resource, absl::string_view name);
absl::Status Conflict(absl::string_view qualified_resource, absl::string_view name);
absl::Status BadRequest(absl::string_view message);
absl::Status Invalid(absl::string_view kind, absl::string_view name, absl::string_view message);
absl::Status Expired(absl::string_view message);

}  // namespace fakek8s

#endif  // FAKEK8S_API_ERRORS_H_
