#include "fakek8s/access_control.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/http_util.h"

namespace fakek8s {

using internal::ContainsOrStar;

void AccessControl::AddToken(const std::string& token, const std::string& user) {
  absl::MutexLock lock(&mu_);
  tokens_[token] = user;
}

void AccessControl::RemoveToken(const std::string& token) {
  absl::MutexLock lock(&mu_);
  tokens_.erase(token);
}

void AccessControl::SetRules(const std::string& user, std::vector<RbacRule> rules) {
  absl::MutexLock lock(&mu_);
  rules_[user] = std::move(rules);
}

absl::StatusOr<std::string> AccessControl::Authenticate(const std::string& header) const {
  absl::MutexLock lock(&mu_);
  if (tokens_.empty()) return std::string("system:anonymous");
  std::string token;
  if (absl::StartsWithIgnoreCase(header, "Bearer ")) {
    token = std::string(absl::StripAsciiWhitespace(header.substr(7)));
  }
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return ApiError(401, "Unauthorized", "Unauthorized");
  return it->second;
}

bool AccessControl::Authorized(const std::string& user, const std::string& verb,
                               const std::string& resource, const std::string& ns) const {
  absl::MutexLock lock(&mu_);
  auto it = rules_.find(user);
  if (it == rules_.end()) return true;
  for (const RbacRule& rule : it->second) {
    if (!ContainsOrStar(rule.verbs, verb) || !ContainsOrStar(rule.resources, resource)) continue;
    if (rule.namespaces.empty() || (!ns.empty() && ContainsOrStar(rule.namespaces, ns))) {
      return true;
    }
  }
  return false;
}

absl::Status AccessControl::Forbidden(const std::string& user, const std::string& verb,
                                      const ResourceInfo& info, const std::string& subresource,
                                      const std::string& ns, const std::string& name) {
  const std::string resource = subresource.empty() ? info.plural : info.plural + "/" + subresource;
  std::string what =
      name.empty() ? info.QualifiedName() : absl::StrCat(info.QualifiedName(), " \"", name, "\"");
  std::string where =
      ns.empty() ? "at the cluster scope" : absl::StrCat("in the namespace \"", ns, "\"");
  return ApiError(
      403, "Forbidden",
      absl::StrCat(what, " is forbidden: User \"", user, "\" cannot ", verb, " resource \"",
                   resource, "\" in API group \"", info.group, "\" ", where));
}

}  // namespace fakek8s
