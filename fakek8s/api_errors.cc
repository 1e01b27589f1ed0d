#include "fakek8s/api_errors.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fakek8s {
namespace {

constexpr absl::string_view kPayloadUrl = "type.fakek8s/http-error";
constexpr absl::string_view kDetailsUrl = "type.fakek8s/status-details";

absl::StatusCode CanonicalCode(int http_code) {
  switch (http_code) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 415:
      return absl::StatusCode::kInvalidArgument;
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return http_code >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

struct CodeAndReason {
  int code;
  std::string reason;
};

CodeAndReason Decode(const absl::Status& status) {
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    std::vector<std::string> parts = absl::StrSplit(std::string(*payload), absl::MaxSplits(' ', 1));
    int code = 500;
    if (parts.size() == 2 && absl::SimpleAtoi(parts[0], &code)) {
      return {code, parts[1]};
    }
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return {400, "BadRequest"};
    case absl::StatusCode::kUnauthenticated:
      return {401, "Unauthorized"};
    case absl::StatusCode::kPermissionDenied:
      return {403, "Forbidden"};
    case absl::StatusCode::kNotFound:
      return {404, "NotFound"};
    case absl::StatusCode::kAlreadyExists:
      return {409, "AlreadyExists"};
    case absl::StatusCode::kAborted:
      return {409, "Conflict"};
    case absl::StatusCode::kOutOfRange:
      return {410, "Expired"};
    case absl::StatusCode::kResourceExhausted:
      return {429, "TooManyRequests"};
    case absl::StatusCode::kUnavailable:
      return {503, "ServiceUnavailable"};
    case absl::StatusCode::kDeadlineExceeded:
      return {504, "Timeout"};
    default:
      return {500, "InternalError"};
  }
}

}  // namespace

absl::Status ApiError(int http_code, absl::string_view reason, absl::string_view message) {
  absl::Status status(CanonicalCode(http_code), message);
  status.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(http_code, " ", reason)));
  return status;
}

int HttpCode(const absl::Status& status) { return status.ok() ? 200 : Decode(status).code; }

nlohmann::json ToStatusObject(const absl::Status& status, const nlohmann::json& details) {
  CodeAndReason cr = Decode(status);
  nlohmann::json out = {{"kind", "Status"},
                        {"apiVersion", "v1"},
                        {"metadata", nlohmann::json::object()},
                        {"status", "Failure"},
                        {"message", std::string(status.message())},
                        {"reason", cr.reason},
                        {"code", cr.code}};
  if (!details.is_null()) {
    out["details"] = details;
  } else if (auto carried = status.GetPayload(kDetailsUrl)) {
    nlohmann::json parsed = nlohmann::json::parse(std::string(*carried), nullptr, false);
    if (parsed.is_object()) out["details"] = std::move(parsed);
  }
  return out;
}

absl::Status WithDetails(absl::Status status, const nlohmann::json& details) {
  status.SetPayload(kDetailsUrl, absl::Cord(details.dump()));
  return status;
}

absl::Status NotFound(absl::string_view qualified_resource, absl::string_view name) {
  return ApiError(404, "NotFound", absl::StrCat(qualified_resource, " \"", name, "\" not found"));
}

absl::Status AlreadyExists(absl::string_view qualified_resource, absl::string_view name) {
  return ApiError(409, "AlreadyExists",
                  absl::StrCat(qualified_resource, " \"", name, "\" already exists"));
}

absl::Status Conflict(absl::string_view qualified_resource, absl::string_view name) {
  return ApiError(409, "Conflict",
                  absl::StrCat("Operation cannot be fulfilled on ", qualified_resource, " \"", name,
                               "\": the object has been modified; please apply your changes "
                               "to the latest version and try again"));
}

absl::Status BadRequest(absl::string_view message) { return ApiError(400, "BadRequest", message); }

absl::Status Invalid(absl::string_view kind, absl::string_view name, absl::string_view message) {
  return ApiError(422, "Invalid", absl::StrCat(kind, " \"", name, "\" is invalid: ", message));
}

absl::Status Expired(absl::string_view message) { return ApiError(410, "Expired", message); }

}  // namespace fakek8s
