// File: fakek8s/seed.h
// -----------------------------------------------------------------------------
// Filling a fakek8s ObjectStore: from Kubernetes manifests (YAML or JSON, several
// documents, `kind: List` too) or with a ready-made demo Service and its Pods.
//
//   fakek8s::SeedDemo(store, {.ns = "demo", .service = "web", .replicas = 3});
//   fakek8s::SeedFromManifests(store, yaml_text);
//
// Errors are InvalidArgument naming the document and what is wrong with it, or
// the store's error for the object (AlreadyExists, NotFound namespace, ...).

#ifndef FAKEK8S_SEED_H_
#define FAKEK8S_SEED_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fakek8s/api_server.h"
#include "fakek8s/object_store.h"
#include "fakek8s/yaml_json.h"  // YamlToJson, for callers that used it from here
#include "nlohmann/json.hpp"

namespace fakek8s {

// Creates every object of `text` (YAML or JSON; `---`-separated documents; a
// `kind: List` expands to its items). Namespaces that objects name but that do
// not exist are created first; a Namespace document for one that exists (say
// `default`, which every cluster has) adds its labels and annotations to it.
// With `namespaces`, appends the namespaces of the namespaced objects, in the
// order they first appear.
absl::Status SeedFromManifests(ObjectStore& store, const std::string& text,
                               std::vector<std::string>* namespaces = nullptr);

// The rules of every `kind: Role` and `kind: ClusterRole` document of `text`
// (other kinds are skipped) as fakek8s RBAC rules, a Role's scoped to its
// namespace, a ClusterRole's everywhere (cluster-scoped resources such as
// nodes too): so that a test can hold a client to exactly the permissions a
// real manifest grants. Bindings are not read: every rule applies to the one
// user a test names. apiGroups are not checked (fakek8s serves each resource
// under one group). InvalidArgument if there is no Role or ClusterRole or a
// rule lacks verbs or resources.
absl::StatusOr<std::vector<RbacRule>> RbacRulesFromRoles(const std::string& text);

struct DemoOptions {
  std::string ns = "demo";
  std::string service = "web";
  int replicas = 3;
  int port = 80;           // the Service port
  int target_port = 8080;  // the container port endpoints carry
  // Pod i gets IP "127.0.<ip_third_octet>.<i+1>" (loopback: kube-grpc can dial it).
  int ip_third_octet = 10;
  // The pods' Node (created, Ready, if absent; "" = none), and its zone label.
  std::string node = "fake-node";
  std::string zone = "zone-a";
};

// A namespace, a Node, a Service `service` selecting app=<service> with one
// port named "grpc", and `replicas` Running, Ready pods named <service>-<i> on
// that Node.
absl::Status SeedDemo(ObjectStore& store, const DemoOptions& options);

}  // namespace fakek8s

#endif  // FAKEK8S_SEED_H_
