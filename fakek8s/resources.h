// File: fakek8s/resources.h
// -----------------------------------------------------------------------------
// The Kubernetes resources fakek8s serves, with what the API discovery documents,
// the URL router and the selectors need to know about each.

#ifndef FAKEK8S_RESOURCES_H_
#define FAKEK8S_RESOURCES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fakek8s {

enum class Resource {
  kNamespaces = 0,
  kServices,
  kPods,
  kEndpoints,
  kEndpointSlices,
  kEvents,    // core/v1 Events (what is stored)
  kEventsV1,  // events.k8s.io/v1 Events: the same objects, converted (conversion.h)
  // Reviews: created, answered, never stored (reviews.h).
  kSelfSubjectAccessReviews,
  kSelfSubjectRulesReviews,
  kSelfSubjectReviews,
  // Cluster-scoped: a node's labels give its zone (topology.kubernetes.io/zone).
  kNodes,
};
inline constexpr int kNumResources = 11;

struct ResourceInfo {
  Resource resource;
  std::string plural;    // "endpointslices": the URL segment
  std::string singular;  // "endpointslice"
  std::string kind;      // "EndpointSlice"
  std::string group;     // "discovery.k8s.io"; "" for the core group
  std::string version;   // "v1"
  bool namespaced;
  std::vector<std::string> short_names;
  // Field paths that `fieldSelector` accepts for this resource.
  std::vector<std::string> selectable_fields;
  // Where its objects live in the ObjectStore: itself, or the resource it is
  // another version of (kEventsV1 -> kEvents).
  Resource storage = resource;
  // A review: only `create`, answered at once and not stored.
  bool review = false;

  // The verbs discovery lists for it.
  std::vector<std::string> Verbs() const;

  // "v1" or "discovery.k8s.io/v1".
  std::string ApiVersion() const;
  // "pods" or "endpointslices.discovery.k8s.io", as in RBAC error messages.
  std::string QualifiedName() const;
};

const ResourceInfo& Info(Resource resource);
const std::vector<ResourceInfo>& AllResources();

// The resource served at /api/v1/<plural> (group "") or
// /apis/<group>/<version>/<plural>; nullopt if fakek8s does not serve it.
std::optional<Resource> FindResource(absl::string_view group, absl::string_view version,
                                     absl::string_view plural);

}  // namespace fakek8s

#endif  // FAKEK8S_RESOURCES_H_
