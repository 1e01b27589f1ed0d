#include "fakek8s/access_control.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

absl::StatusOr<Identity> AccessControl::Authenticate(const std::string& header) const {
  absl::MutexLock lock(&mu_);
  const Identity anonymous{"system:anonymous", {"system:unauthenticated"}};
  if (tokens_.empty() || header.empty()) return anonymous;
  std::string token;
  if (absl::StartsWithIgnoreCase(header, "Bearer ")) {
    token = std::string(absl::StripAsciiWhitespace(header.substr(7)));
  }
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return ApiError(401, "Unauthorized", "Unauthorized");
  Identity who{it->second, {"system:authenticated"}};
  // system:serviceaccount:<ns>:<name> is in its namespace's group too.
  std::vector<std::string> parts = absl::StrSplit(who.user, ':');
  if (parts.size() == 4 && parts[0] == "system" && parts[1] == "serviceaccount") {
    who.groups.push_back("system:serviceaccounts");
    who.groups.push_back("system:serviceaccounts:" + parts[2]);
  }
  return who;
}

bool AccessControl::PublicPath(const std::string& path) {
  for (const char* p : {"/healthz", "/livez", "/readyz", "/version"}) {
    if (path == p || absl::StartsWith(path, absl::StrCat(p, "/"))) return true;
  }
  return false;
}

bool AccessControl::Authorized(const Identity& who, const std::string& verb,
                               const std::string& group, const std::string& resource,
                               const std::string& ns, const std::string& name) const {
  absl::MutexLock lock(&mu_);
  if (who.anonymous()) return tokens_.empty();
  auto it = rules_.find(who.user);
  if (it == rules_.end()) return true;
  for (const RbacRule& rule : it->second) {
    if (!ContainsOrStar(rule.verbs, verb) || !ContainsOrStar(rule.resources, resource)) continue;
    if (!rule.api_groups.empty() && !ContainsOrStar(rule.api_groups, group)) continue;
    if (!rule.resource_names.empty() && !ContainsOrStar(rule.resource_names, name)) continue;
    if (rule.namespaces.empty() || (!ns.empty() && ContainsOrStar(rule.namespaces, ns))) {
      return true;
    }
  }
  return false;
}

bool AccessControl::AuthorizedPath(const Identity& who, const std::string& verb,
                                   const std::string& path) const {
  if (verb != "get" && verb != "head") return !who.anonymous() && !RulesFor(who, "").has_value();
  if (PublicPath(path)) return true;
  absl::MutexLock lock(&mu_);
  if (who.anonymous()) return tokens_.empty();
  return true;  // discovery and OpenAPI: every authenticated user
}

std::optional<std::vector<RbacRule>> AccessControl::RulesFor(const Identity& who,
                                                             const std::string& ns) const {
  absl::MutexLock lock(&mu_);
  if (who.anonymous() && !tokens_.empty()) return std::vector<RbacRule>{};
  auto it = rules_.find(who.user);
  if (it == rules_.end()) return std::nullopt;
  std::vector<RbacRule> out;
  for (const RbacRule& rule : it->second) {
    if (rule.namespaces.empty() || ContainsOrStar(rule.namespaces, ns)) out.push_back(rule);
  }
  return out;
}

absl::Status AccessControl::Forbidden(const Identity& who, const std::string& verb,
                                      const ResourceInfo& info, const std::string& subresource,
                                      const std::string& ns, const std::string& name) {
  const std::string resource = subresource.empty() ? info.plural : info.plural + "/" + subresource;
  std::string what =
      name.empty() ? info.QualifiedName() : absl::StrCat(info.QualifiedName(), " \"", name, "\"");
  std::string where =
      ns.empty() ? "at the cluster scope" : absl::StrCat("in the namespace \"", ns, "\"");
  return ApiError(
      403, "Forbidden",
      absl::StrCat(what, " is forbidden: User \"", who.user, "\" cannot ", verb, " resource \"",
                   resource, "\" in API group \"", info.group, "\" ", where));
}

}  // namespace fakek8s
