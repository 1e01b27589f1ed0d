#include "fakek8s/http_util.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"
#include "httplib.h"

namespace fakek8s::internal {

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string EventLine(const std::string& type, const json& object) {
  return absl::StrCat("{\"type\":\"", type, "\",\"object\":", Dump(object), "}\n");
}

void WriteJson(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(Dump(body), kJson);
}

void WriteError(httplib::Response& res, const absl::Status& status, const json& details) {
  WriteJson(res, HttpCode(status), ToStatusObject(status, details));
}

bool ParseBool(const std::string& v) {
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE";
}

std::string Param(const httplib::Request& req, const char* key) {
  return req.has_param(key) ? req.get_param_value(key) : "";
}

json AsListItem(json object) {
  object.erase("kind");
  object.erase("apiVersion");
  return object;
}

bool ContainsOrStar(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), "*") != list.end() ||
         std::find(list.begin(), list.end(), value) != list.end();
}
}  // namespace fakek8s::internal
