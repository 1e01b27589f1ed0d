// File: fakek8s/http_util.h
// -----------------------------------------------------------------------------
// Small pieces every fakek8s handler shares: writing JSON and Status bodies,
// query parameters as the Go API server reads them, watch event lines.
// Thread-safe (functions).

#ifndef FAKEK8S_HTTP_UTIL_H_
#define FAKEK8S_HTTP_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace fakek8s::internal {

using json = nlohmann::json;

inline constexpr char kJson[] = "application/json";

// JSON text; invalid UTF-8 is replaced, never thrown on.
std::string Dump(const json& j);
// One watch event as a line: {"type":...,"object":...}, type first as real
// servers write it.
std::string EventLine(const std::string& type, const json& object);
void WriteJson(httplib::Response& res, int code, const json& body);
// A Status body with the error's HTTP code.
void WriteError(httplib::Response& res, const absl::Status& status, const json& details = nullptr);
// Go's strconv.ParseBool, which the API server uses for boolean parameters.
bool ParseBool(const std::string& v);
// The query parameter `key` ("" if absent).
std::string Param(const httplib::Request& req, const char* key);
// A list item has no kind / apiVersion (the List carries them).
json AsListItem(json object);
// Whether `list` holds `value` or "*".
bool ContainsOrStar(const std::vector<std::string>& list, const std::string& value);

}  // namespace fakek8s::internal

#endif  // FAKEK8S_HTTP_UTIL_H_
