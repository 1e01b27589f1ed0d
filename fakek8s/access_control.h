// File: fakek8s/access_control.h
// -----------------------------------------------------------------------------
// Authentication and authorization, as fakek8s enforces them.
//
// Authentication: with no token registered every request is anonymous
// ("system:anonymous") and allowed; once a token exists, a request needs
// `Authorization: Bearer <token>` of a registered token (401 otherwise).
// Tokens can be added and removed at run time (rotation).
//
// Authorization (RBAC, simplified): a user with rules may do only what one of
// them allows; a user without rules may do anything. The 403 message is the
// real server's.
//
// Thread-safety: thread-safe.

#ifndef FAKEK8S_ACCESS_CONTROL_H_
#define FAKEK8S_ACCESS_CONTROL_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fakek8s/resources.h"

namespace fakek8s {

// What a user may do: each list holds names or "*". An empty `namespaces`
// means every namespace and the cluster scope.
struct RbacRule {
  std::vector<std::string> verbs;      // get, list, watch, create, update, patch, delete
  std::vector<std::string> resources;  // plural names, e.g. "endpointslices", "pods/status"
  std::vector<std::string> namespaces;
};

class AccessControl {
 public:
  void AddToken(const std::string& token, const std::string& user) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveToken(const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);
  void SetRules(const std::string& user, std::vector<RbacRule> rules) ABSL_LOCKS_EXCLUDED(mu_);

  // The user an `Authorization` header value names; 401 Unauthorized if none.
  absl::StatusOr<std::string> Authenticate(const std::string& authorization) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `user` may `verb` the `resource` ("pods", "pods/status") in `ns`
  // ("" = the cluster scope).
  bool Authorized(const std::string& user, const std::string& verb, const std::string& resource,
                  const std::string& ns) const ABSL_LOCKS_EXCLUDED(mu_);
  // The real server's 403 for a denied request (`name` "" for collections).
  static absl::Status Forbidden(const std::string& user, const std::string& verb,
                                const ResourceInfo& info, const std::string& subresource,
                                const std::string& ns, const std::string& name);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> tokens_ ABSL_GUARDED_BY(mu_);  // token -> user
  std::map<std::string, std::vector<RbacRule>> rules_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fakek8s

#endif  // FAKEK8S_ACCESS_CONTROL_H_
