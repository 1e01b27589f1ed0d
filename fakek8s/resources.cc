#include "fakek8s/resources.h"

#include "absl/strings/str_cat.h"

namespace fakek8s {

std::string ResourceInfo::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

std::string ResourceInfo::QualifiedName() const {
  return group.empty() ? plural : absl::StrCat(plural, ".", group);
}

const std::vector<ResourceInfo>& AllResources() {
  static const std::vector<ResourceInfo>* const kResources = [] {
    const std::vector<std::string> meta = {"metadata.name", "metadata.namespace"};
    auto with = [&](std::vector<std::string> extra) {
      extra.insert(extra.begin(), meta.begin(), meta.end());
      return extra;
    };
    return new std::vector<ResourceInfo>{
        {Resource::kNamespaces,
         "namespaces",
         "namespace",
         "Namespace",
         "",
         "v1",
         false,
         {"ns"},
         with({"status.phase"})},
        {Resource::kServices,
         "services",
         "service",
         "Service",
         "",
         "v1",
         true,
         {"svc"},
         with({"spec.clusterIP", "spec.type"})},
        {Resource::kPods,
         "pods",
         "pod",
         "Pod",
         "",
         "v1",
         true,
         {"po"},
         with({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
               "spec.serviceAccountName", "status.phase", "status.podIP",
               "status.nominatedNodeName"})},
        {Resource::kEndpoints, "endpoints", "endpoints", "Endpoints", "", "v1", true, {"ep"}, meta},
        {Resource::kEndpointSlices,
         "endpointslices",
         "endpointslice",
         "EndpointSlice",
         "discovery.k8s.io",
         "v1",
         true,
         {},
         with({"addressType"})},
        {Resource::kEvents,
         "events",
         "event",
         "Event",
         "",
         "v1",
         true,
         {"ev"},
         with({"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"})},
        {Resource::kEventsV1,
         "events",
         "event",
         "Event",
         "events.k8s.io",
         "v1",
         true,
         {"ev"},
         // Selected on the stored (core/v1) object: the same names as the real
         // server's field labels for this group.
         with({"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason",
               "reportingController", "type"}),
         Resource::kEvents},
        {Resource::kSelfSubjectAccessReviews,
         "selfsubjectaccessreviews",
         "selfsubjectaccessreview",
         "SelfSubjectAccessReview",
         "authorization.k8s.io",
         "v1",
         false,
         {},
         {},
         Resource::kSelfSubjectAccessReviews,
         true},
        {Resource::kSelfSubjectRulesReviews,
         "selfsubjectrulesreviews",
         "selfsubjectrulesreview",
         "SelfSubjectRulesReview",
         "authorization.k8s.io",
         "v1",
         false,
         {},
         {},
         Resource::kSelfSubjectRulesReviews,
         true},
        {Resource::kSelfSubjectReviews,
         "selfsubjectreviews",
         "selfsubjectreview",
         "SelfSubjectReview",
         "authentication.k8s.io",
         "v1",
         false,
         {},
         {},
         Resource::kSelfSubjectReviews,
         true},
        {Resource::kNodes, "nodes", "node", "Node", "", "v1", false, {"no"}, meta},
    };
  }();
  return *kResources;
}

std::vector<std::string> ResourceInfo::Verbs() const {
  if (review) return {"create"};
  return {"create", "delete", "get", "list", "patch", "update", "watch"};
}

const ResourceInfo& Info(Resource resource) { return AllResources()[static_cast<int>(resource)]; }

std::optional<Resource> FindResource(absl::string_view group, absl::string_view version,
                                     absl::string_view plural) {
  for (const ResourceInfo& info : AllResources()) {
    if (info.group == group && info.version == version && info.plural == plural) {
      return info.resource;
    }
  }
  return std::nullopt;
}

}  // namespace fakek8s
