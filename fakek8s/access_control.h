// File: fakek8s/access_control.h
// -----------------------------------------------------------------------------
// Authentication and authorization, as fakek8s enforces them.
//
// Authentication: with no token registered every request is anonymous
// ("system:anonymous") and allowed; once a token exists, a request with
// `Authorization: Bearer <token>` needs a registered token (401 otherwise) and
// a request without credentials is anonymous, as in a cluster with anonymous
// authentication on (kubeadm's default): it may read /healthz, /livez,
// /readyz and /version, and gets 403 for everything else. Tokens can be added
// and removed at run time (rotation).
//
// Authorization (RBAC, simplified): a user with rules may do only what one of
// them allows; a user without rules may do anything. Every authenticated user
// may read discovery and OpenAPI documents and ask reviews about itself (the
// real system:discovery and system:basic-user roles). The 403 message is the
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
// means every namespace and the cluster scope; an empty `api_groups` or
// `resource_names` means any.
struct RbacRule {
  std::vector<std::string> verbs;      // get, list, watch, create, update, patch, delete
  std::vector<std::string> resources;  // plural names, e.g. "endpointslices", "pods/status"
  std::vector<std::string> namespaces;
  std::vector<std::string> api_groups;  // "" is the core group
  std::vector<std::string> resource_names;
};

// Who made a request.
struct Identity {
  std::string user;
  std::vector<std::string> groups;  // system:authenticated, system:serviceaccounts, ...
  bool anonymous() const { return user == "system:anonymous"; }
};

class AccessControl {
 public:
  void AddToken(const std::string& token, const std::string& user) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveToken(const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);
  void SetRules(const std::string& user, std::vector<RbacRule> rules) ABSL_LOCKS_EXCLUDED(mu_);

  // The identity an `Authorization` header value names (anonymous without
  // one); 401 Unauthorized for credentials that name nobody.
  absl::StatusOr<Identity> Authenticate(const std::string& authorization) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `who` may `verb` the `resource` ("pods", "pods/status") of API
  // `group` in `ns` ("" = the cluster scope); `name` "" for any object.
  bool Authorized(const Identity& who, const std::string& verb, const std::string& group,
                  const std::string& resource, const std::string& ns,
                  const std::string& name = "") const ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `who` may `verb` (get, post, ...) a path that is not a resource.
  bool AuthorizedPath(const Identity& who, const std::string& verb, const std::string& path) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The rules that apply to `who` in `ns`; nullopt when it is not limited.
  std::optional<std::vector<RbacRule>> RulesFor(const Identity& who, const std::string& ns) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Paths every user, anonymous too, may read (system:public-info-viewer).
  static bool PublicPath(const std::string& path);
  // The real server's 403 for a denied request (`name` "" for collections).
  static absl::Status Forbidden(const Identity& who, const std::string& verb,
                                const ResourceInfo& info, const std::string& subresource,
                                const std::string& ns, const std::string& name);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> tokens_ ABSL_GUARDED_BY(mu_);  // token -> user
  std::map<std::string, std::vector<RbacRule>> rules_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fakek8s

#endif  // FAKEK8S_ACCESS_CONTROL_H_
