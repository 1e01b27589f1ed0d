#include "fakek8s/schema.h"

#include <map>
#include <utility>

namespace fakek8s::schema {
namespace {

constexpr char kMeta[] = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr char kCore[] = "io.k8s.api.core.v1.";
constexpr char kDisc[] = "io.k8s.api.discovery.v1.";
constexpr char kEvents[] = "io.k8s.api.events.v1.";
constexpr char kAuthz[] = "io.k8s.api.authorization.v1.";
constexpr char kAuthn[] = "io.k8s.api.authentication.v1.";

std::string N(const char* prefix, const char* name) { return std::string(prefix) + name; }

Field Make(std::string name, Type type, std::string description) {
  Field f;
  f.name = std::move(name);
  f.type = type;
  f.description = std::move(description);
  return f;
}
Field Str(std::string name, std::string d) { return Make(std::move(name), Type::kString, d); }
Field Int(std::string name, std::string d) { return Make(std::move(name), Type::kInteger, d); }
Field Bool(std::string name, std::string d) { return Make(std::move(name), Type::kBoolean, d); }
Field Time(std::string name, std::string d) { return Make(std::move(name), Type::kTime, d); }
Field Any(std::string name, std::string d) { return Make(std::move(name), Type::kAny, d); }
Field IntOrStr(std::string name, std::string d) {
  return Make(std::move(name), Type::kIntOrString, d);
}
Field Obj(std::string name, std::string ref, std::string d) {
  Field f = Make(std::move(name), Type::kObject, std::move(d));
  f.ref = std::move(ref);
  return f;
}
Field StrMap(std::string name, std::string d) {
  Field f = Make(std::move(name), Type::kMap, std::move(d));
  f.item = Type::kString;
  return f;
}
// A list replaced as a whole.
Field StrList(std::string name, std::string d) {
  Field f = Make(std::move(name), Type::kArray, std::move(d));
  f.item = Type::kString;
  return f;
}
// A list of distinct strings, merged as a set.
Field StrSet(std::string name, std::string d, bool patch_merge) {
  Field f = StrList(std::move(name), std::move(d));
  f.list_type = ListType::kSet;
  if (patch_merge) f.patch_strategy = "merge";
  return f;
}
Field List(std::string name, std::string ref, std::string d) {
  Field f = Make(std::move(name), Type::kArray, std::move(d));
  f.ref = std::move(ref);
  return f;
}
// A list of objects identified by `keys`, merged by `merge_key`.
Field Keyed(std::string name, std::string ref, std::vector<std::string> keys, std::string merge_key,
            std::string d, std::string strategy = "merge") {
  Field f = List(std::move(name), std::move(ref), std::move(d));
  f.list_type = ListType::kMap;
  f.map_keys = std::move(keys);
  f.patch_merge_key = std::move(merge_key);
  f.patch_strategy = std::move(strategy);
  return f;
}

std::vector<Field> Header(const std::string& what) {
  return {Str("apiVersion",
              "The versioned schema of this object: which API group and version "
              "it belongs to."),
          Str("kind", "The REST resource this object represents, in CamelCase."),
          Obj("metadata", N(kMeta, "ObjectMeta"),
              "Standard object metadata: name, namespace, labels, annotations, uid, "
              "resourceVersion and timestamps of the " +
                  what + ".")};
}

std::vector<TypeDef> Build() {
  std::vector<TypeDef> t;
  auto kind = [&](std::string name, std::string group, std::string version, std::string kind_name,
                  std::string description, std::vector<Field> fields) {
    std::vector<Field> all = Header(kind_name);
    for (Field& f : fields) all.push_back(std::move(f));
    t.push_back({std::move(name), std::move(description), std::move(all), std::move(group),
                 std::move(version), std::move(kind_name)});
  };
  auto type = [&](std::string name, std::string description, std::vector<Field> fields) {
    t.push_back({std::move(name), std::move(description), std::move(fields), "", "", ""});
  };

  // --- Top-level kinds -------------------------------------------------------
  kind(N(kCore, "Pod"), "", "v1", "Pod",
       "A Pod: one or more containers scheduled together, with one IP address. In fakek8s "
       "nothing runs: the status is what clients (or the test harness) write.",
       {Obj("spec", N(kCore, "PodSpec"), "What the pod should run: its containers and settings."),
        Obj("status", N(kCore, "PodStatus"),
            "What is observed about the pod: phase, conditions, IP addresses. Written through "
            "the status subresource.")});
  kind(N(kCore, "Service"), "", "v1", "Service",
       "A Service: a stable name and virtual IP in front of the pods its selector picks. The "
       "endpoint controller turns it into EndpointSlices and Endpoints.",
       {Obj("spec", N(kCore, "ServiceSpec"), "The Service's ports, selector and addressing."),
        Obj("status", N(kCore, "ServiceStatus"), "Observed state: load balancer and conditions.")});
  kind(N(kCore, "Namespace"), "", "v1", "Namespace",
       "A Namespace: a scope for the names of namespaced objects. Deleting one deletes "
       "everything in it.",
       {Obj("spec", N(kCore, "NamespaceSpec"), "Finalizers of the namespace."),
        Obj("status", N(kCore, "NamespaceStatus"), "The namespace's phase and conditions.")});
  kind(N(kCore, "Node"), "", "v1", "Node",
       "A Node: a machine pods run on. Cluster-scoped. In fakek8s it runs nothing: its "
       "labels (the zone in topology.kubernetes.io/zone) and status are what clients write.",
       {Obj("spec", N(kCore, "NodeSpec"), "How the node is configured: its pod CIDR, taints."),
        Obj("status", N(kCore, "NodeStatus"),
            "What is observed about the node: conditions, addresses, versions.")});
  kind(N(kCore, "Endpoints"), "", "v1", "Endpoints",
       "The addresses of a Service's pods, as one object (deprecated in v1.33 in favour of "
       "EndpointSlices; still maintained by the endpoint controller).",
       {List("subsets", N(kCore, "EndpointSubset"),
             "Groups of addresses that share the same ports: ready addresses and not-ready "
             "ones.")});
  kind(N(kDisc, "EndpointSlice"), "discovery.k8s.io", "v1", "EndpointSlice",
       "A slice of a Service's endpoints (at most 100 per slice), with readiness conditions, "
       "zones and hints. The label kubernetes.io/service-name names the Service.",
       {Str("addressType", "The kind of address every endpoint in the slice has.")
            .Required()
            .Enum({"IPv4", "IPv6", "FQDN"}),
        List("endpoints", N(kDisc, "Endpoint"), "The endpoints of this slice (at most 1000).")
            .Required(),
        List("ports", N(kDisc, "EndpointPort"),
             "The ports every endpoint of the slice exposes; empty means all ports.")});
  kind(N(kCore, "Event"), "", "v1", "Event",
       "A report of something that happened to an object: a pod scheduled, started, found "
       "unready, stopped; in fakek8s also each fault injected. Kept for an hour.",
       {Obj("involvedObject", N(kCore, "ObjectReference"), "The object this event is about.")
            .Required(),
        Str("reason", "A short CamelCase reason for the transition, e.g. Started or Unhealthy."),
        Str("message", "What happened, for people."),
        Obj("source", N(kCore, "EventSource"), "The component that reported the event."),
        Time("firstTimestamp", "When the event was first recorded."),
        Time("lastTimestamp", "When the event most recently occurred."),
        Int("count", "How many times the event has occurred."),
        Str("type", "Normal or Warning.").Enum({"Normal", "Warning"}),
        Time("eventTime", "When the event was first observed, with microseconds."),
        Obj("series", N(kCore, "EventSeries"), "Data about a series of repeated events."),
        Str("action", "What was done, or failed, about the object."),
        Obj("related", N(kCore, "ObjectReference"), "A secondary object, if any."),
        Str("reportingComponent", "The controller that emitted the event."),
        Str("reportingInstance", "The instance of that controller.")});
  kind(N(kEvents, "Event"), "events.k8s.io", "v1", "Event",
       "An event in the events.k8s.io/v1 shape: the same objects as core/v1 Events, with "
       "regarding/note instead of involvedObject/message.",
       {Time("eventTime", "When the event was first observed, with microseconds.").Required(),
        Obj("series", N(kEvents, "EventSeries"), "Data about a series of repeated events."),
        Str("reportingController", "The controller that emitted the event."),
        Str("reportingInstance", "The instance of that controller."),
        Str("action", "What was done, or failed, about the object."),
        Str("reason", "A short CamelCase reason for the transition."),
        Obj("regarding", N(kCore, "ObjectReference"), "The object this event is about."),
        Obj("related", N(kCore, "ObjectReference"), "A secondary object, if any."),
        Str("note", "What happened, for people."),
        Str("type", "Normal or Warning.").Enum({"Normal", "Warning"}),
        Obj("deprecatedSource", N(kCore, "EventSource"), "core/v1's source field."),
        Time("deprecatedFirstTimestamp", "core/v1's firstTimestamp."),
        Time("deprecatedLastTimestamp", "core/v1's lastTimestamp."),
        Int("deprecatedCount", "core/v1's count.")});
  kind(N(kAuthz, "SelfSubjectAccessReview"), "authorization.k8s.io", "v1",
       "SelfSubjectAccessReview",
       "Asks whether the requesting user may perform an action (what `kubectl auth can-i` "
       "sends). Answered from the rules fakek8s enforces; never stored.",
       {Obj("spec", N(kAuthz, "SelfSubjectAccessReviewSpec"), "The action to check.").Required(),
        Obj("status", N(kAuthz, "SubjectAccessReviewStatus"), "The answer.")});
  kind(N(kAuthz, "SelfSubjectRulesReview"), "authorization.k8s.io", "v1", "SelfSubjectRulesReview",
       "Lists what the requesting user may do in a namespace (`kubectl auth can-i --list`).",
       {Obj("spec", N(kAuthz, "SelfSubjectRulesReviewSpec"), "The namespace to list rules for.")
            .Required(),
        Obj("status", N(kAuthz, "SubjectRulesReviewStatus"), "The rules.")});
  kind(N(kAuthn, "SelfSubjectReview"), "authentication.k8s.io", "v1", "SelfSubjectReview",
       "Tells the requesting user who the server thinks they are (`kubectl auth whoami`).",
       {Obj("status", N(kAuthn, "SelfSubjectReviewStatus"), "The user's identity.")});

  // --- Metadata ----------------------------------------------------------------
  type(N(kMeta, "ObjectMeta"), "Metadata every persisted object has.",
       {Str("name", "The object's name, unique in its namespace for its kind."),
        Str("generateName", "A prefix for a server-generated name, used when name is empty."),
        Str("namespace", "The namespace of a namespaced object."),
        Str("uid", "A unique id the server assigns at creation."),
        Str("resourceVersion",
            "An opaque version of the object, for optimistic concurrency and watches."),
        Int("generation", "A sequence number of changes to the desired state."),
        Time("creationTimestamp", "When the server created the object."),
        Time("deletionTimestamp",
             "When the object will be removed; set when a graceful deletion begins."),
        Int("deletionGracePeriodSeconds", "The grace period of a deletion under way."),
        StrMap("labels", "Key/value pairs that selectors match on."),
        StrMap("annotations", "Key/value pairs for tools; not used to select objects."),
        Keyed("ownerReferences", N(kMeta, "OwnerReference"), {"uid"}, "uid",
              "Objects this one depends on; when all are gone it may be garbage collected."),
        StrSet("finalizers", "Conditions that must clear before the object is removed.", true),
        List("managedFields", N(kMeta, "ManagedFieldsEntry"),
             "Which field manager owns which fields (server-side apply).")});
  type(N(kMeta, "OwnerReference"), "A reference to an owning object.",
       {Str("apiVersion", "The owner's API version.").Required(),
        Str("kind", "The owner's kind.").Required(), Str("name", "The owner's name.").Required(),
        Str("uid", "The owner's uid.").Required(),
        Bool("controller", "Whether the owner is the managing controller."),
        Bool("blockOwnerDeletion", "Whether the owner's deletion waits for this object.")});
  type(N(kMeta, "ManagedFieldsEntry"), "The fields one manager owns, and how it last set them.",
       {Str("manager", "The field manager's name (the fieldManager of its requests)."),
        Str("operation", "Apply or Update.").Enum({"Apply", "Update"}),
        Str("apiVersion", "The version the fields were set in."),
        Time("time", "When the manager last changed them."),
        Str("fieldsType", "The format of fieldsV1: always FieldsV1."),
        Any("fieldsV1", "The set of fields, as a tree of f:<name>, k:<keys>, v:<value> keys."),
        Str("subresource", "The subresource the fields were set through, if any.")});

  // --- Pods --------------------------------------------------------------------
  type(N(kCore, "PodSpec"), "The desired state of a pod.",
       {Keyed("containers", N(kCore, "Container"), {"name"}, "name",
              "The pod's containers (at least one).")
            .Required(),
        Keyed("initContainers", N(kCore, "Container"), {"name"}, "name",
              "Containers run to completion, in order, before the others start."),
        Str("nodeName", "The node the pod is bound to (shown as NODE by kubectl)."),
        StrMap("nodeSelector", "Labels a node must have to run the pod."),
        Str("restartPolicy", "What to do when a container exits.")
            .Default("\"Always\"")
            .Enum({"Always", "OnFailure", "Never"}),
        Int("terminationGracePeriodSeconds", "How long the pod has to stop after deletion begins.")
            .Default("30"),
        Str("dnsPolicy", "How the pod's DNS is set up.").Default("\"ClusterFirst\""),
        Str("serviceAccountName", "The ServiceAccount the pod runs as."),
        Str("schedulerName", "The scheduler that places the pod.").Default("\"default-scheduler\""),
        Str("hostname", "The pod's hostname (defaults to its name)."),
        Str("subdomain", "With hostname, gives the pod a DNS name under a headless Service."),
        List("readinessGates", N(kCore, "PodReadinessGate"),
             "Extra conditions that must be True for the pod to be Ready."),
        Keyed("volumes", N(kCore, "Volume"), {"name"}, "name", "Volumes the containers may mount.",
              "merge,retainKeys"),
        List("tolerations", N(kCore, "Toleration"), "Taints the pod tolerates."),
        Int("priority", "The pod's scheduling priority."),
        Bool("enableServiceLinks", "Whether Service environment variables are injected.")
            .Default("true"),
        Any("securityContext", "Pod-level security settings."),
        Any("affinity", "Scheduling constraints.")});
  type(
      N(kCore, "Container"), "One container of a pod.",
      {Str("name", "The container's name, unique in the pod.").Required(),
       Str("image", "The container image."),
       Str("imagePullPolicy", "When to pull the image.").Enum({"Always", "IfNotPresent", "Never"}),
       StrList("command", "The entrypoint (replaces the image's)."),
       StrList("args", "Arguments to the entrypoint."), Str("workingDir", "The working directory."),
       Keyed("ports", N(kCore, "ContainerPort"), {"containerPort", "protocol"}, "containerPort",
             "Ports the container exposes (informational; a Service's targetPort may name one)."),
       Keyed("env", N(kCore, "EnvVar"), {"name"}, "name", "Environment variables."),
       Obj("resources", N(kCore, "ResourceRequirements"),
           "CPU and memory requests and limits; they decide the pod's QoS class."),
       Keyed("volumeMounts", N(kCore, "VolumeMount"), {"mountPath"}, "mountPath",
             "Volumes mounted into the container."),
       Obj("readinessProbe", N(kCore, "Probe"),
           "How the kubelet decides the container is ready (not run by fakek8s)."),
       Obj("livenessProbe", N(kCore, "Probe"), "How the kubelet decides to restart it."),
       Obj("startupProbe", N(kCore, "Probe"), "How the kubelet decides it has started."),
       Any("lifecycle", "Hooks run after start and before stop (preStop)."),
       Str("terminationMessagePath", "Where the container writes its termination message.")
           .Default("\"/dev/termination-log\""),
       Str("terminationMessagePolicy", "How the termination message is found.").Default("\"File\""),
       Any("securityContext", "Container-level security settings.")});
  type(N(kCore, "ContainerPort"), "A port of a container.",
       {Int("containerPort", "The port number on the pod's IP.").Required(),
        Str("name", "A name for the port, which a Service's targetPort can refer to."),
        Str("protocol", "TCP, UDP or SCTP.").Default("\"TCP\"").Enum({"TCP", "UDP", "SCTP"}),
        Int("hostPort", "A port on the node mapped to this one."),
        Str("hostIP", "The node address to bind hostPort to.")});
  type(N(kCore, "EnvVar"), "An environment variable.",
       {Str("name", "The variable's name.").Required(), Str("value", "Its value."),
        Any("valueFrom", "Where to read the value from instead (a field, Secret, ...).")});
  type(N(kCore, "ResourceRequirements"), "Compute resources of a container.",
       {StrMap("limits", "The most the container may use, e.g. cpu: 500m, memory: 128Mi."),
        StrMap("requests", "What the container is guaranteed; defaults to the limits.")});
  type(N(kCore, "VolumeMount"), "A volume mounted into a container.",
       {Str("name", "The volume's name.").Required(),
        Str("mountPath", "Where it is mounted.").Required(),
        Bool("readOnly", "Whether it is mounted read-only."),
        Str("subPath", "A path within the volume to mount instead of its root.")});
  type(
      N(kCore, "Volume"), "A volume a pod's containers can mount.",
      {Str("name", "The volume's name, unique in the pod.").Required(),
       Any("emptyDir", "A directory that lives as long as the pod."),
       Any("configMap", "A ConfigMap's keys as files."), Any("secret", "A Secret's keys as files."),
       Any("projected", "Several sources in one directory (how ServiceAccount tokens come).")});
  type(N(kCore, "Toleration"), "Lets a pod run on nodes with a matching taint.",
       {Str("key", "The taint key."), Str("operator", "Exists or Equal."),
        Str("value", "The taint value."), Str("effect", "The taint effect."),
        Int("tolerationSeconds", "How long a NoExecute taint is tolerated.")});
  type(N(kCore, "PodReadinessGate"), "An extra condition for readiness.",
       {Str("conditionType", "The condition type in status.conditions.").Required()});
  type(N(kCore, "Probe"), "A check the kubelet runs against a container.",
       {Any("httpGet", "An HTTP GET on a path and port."),
        Any("tcpSocket", "A TCP connection to a port."),
        Any("grpc", "A grpc.health.v1 Check on a port."),
        Any("exec", "A command run in the container."),
        Int("initialDelaySeconds", "Delay after start before the first probe."),
        Int("periodSeconds", "How often to probe.").Default("10"),
        Int("timeoutSeconds", "The probe's timeout.").Default("1"),
        Int("successThreshold", "Successes in a row to count as passing.").Default("1"),
        Int("failureThreshold", "Failures in a row to count as failing.").Default("3")});
  type(
      N(kCore, "PodStatus"), "The observed state of a pod.",
      {Str("phase", "Where the pod is in its lifecycle.")
           .Default("\"Pending\"")
           .Enum({"Pending", "Running", "Succeeded", "Failed", "Unknown"}),
       Keyed("conditions", N(kCore, "PodCondition"), {"type"}, "type",
             "The pod's conditions; Ready decides whether its endpoints are ready."),
       Str("podIP", "The pod's IP address; endpoints use it."),
       Keyed("podIPs", N(kCore, "PodIP"), {"ip"}, "ip", "All of the pod's IPs (one per family)."),
       Str("hostIP", "The IP of the node the pod runs on."),
       Keyed("hostIPs", N(kCore, "HostIP"), {"ip"}, "ip", "All of the node's IPs."),
       Time("startTime", "When the kubelet acknowledged the pod."),
       Str("qosClass", "The pod's quality-of-service class, from its containers' resources.")
           .Enum({"Guaranteed", "Burstable", "BestEffort"}),
       List("containerStatuses", N(kCore, "ContainerStatus"),
            "One status per container: ready, restarts, state."),
       List("initContainerStatuses", N(kCore, "ContainerStatus"), "One status per init container."),
       Str("message", "Why the pod is in this state, for people."),
       Str("reason", "A CamelCase reason for the state, e.g. Evicted."),
       Str("nominatedNodeName", "The node a preemption made room on.")});
  type(N(kCore, "PodCondition"), "One condition of a pod.",
       {Str("type", "PodScheduled, Initialized, ContainersReady or Ready (or a readiness gate).")
            .Required(),
        Str("status", "True, False or Unknown.").Required(),
        Str("reason", "A CamelCase reason for the last transition."),
        Str("message", "Details of the last transition."),
        Time("lastProbeTime", "When the condition was last probed."),
        Time("lastTransitionTime", "When the status last changed.")});
  type(N(kCore, "PodIP"), "An IP address of a pod.", {Str("ip", "The address.").Required()});
  type(N(kCore, "HostIP"), "An IP address of a node.", {Str("ip", "The address.").Required()});
  type(N(kCore, "ContainerStatus"), "The observed state of one container.",
       {Str("name", "The container's name.").Required(),
        Bool("ready", "Whether its readiness probe passes.").Required(),
        Bool("started", "Whether its startup probe has passed."),
        Int("restartCount", "How many times it has been restarted.").Required(),
        Str("image", "The image it runs.").Required(), Str("imageID", "The image's digest."),
        Str("containerID", "The runtime's id for the container."),
        Any("state", "Its current state: waiting, running or terminated, with details."),
        Any("lastState", "The state it was in before the last restart.")});

  // --- Services ----------------------------------------------------------------
  type(N(kCore, "ServiceSpec"), "The desired state of a Service.",
       {Keyed("ports", N(kCore, "ServicePort"), {"port", "protocol"}, "port",
              "The ports the Service exposes and where each goes on the pods."),
        [] {
          Field f = StrMap("selector",
                           "The labels of the pods behind the Service. Without one, no "
                           "endpoints are derived.");
          f.atomic_map = true;
          return f;
        }(),
        Str("clusterIP",
            "The Service's virtual IP, allocated by the server (from 10.96.0.0/12 in fakek8s) "
            "unless set; \"None\" makes the Service headless."),
        StrList("clusterIPs", "The virtual IPs, one per IP family; the first is clusterIP."),
        Str("type", "How the Service is exposed.")
            .Default("\"ClusterIP\"")
            .Enum({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}),
        StrList("externalIPs", "Extra IPs that route to the Service."),
        Str("sessionAffinity", "ClientIP pins a client to a pod; None does not.")
            .Default("\"None\"")
            .Enum({"ClientIP", "None"}),
        StrList("ipFamilies", "The IP families of the Service's IPs.").Default("[\"IPv4\"]"),
        Str("ipFamilyPolicy", "How many IP families the Service has.")
            .Default("\"SingleStack\"")
            .Enum({"SingleStack", "PreferDualStack", "RequireDualStack"}),
        Str("internalTrafficPolicy", "Whether in-cluster traffic may go to any node's pods.")
            .Default("\"Cluster\"")
            .Enum({"Cluster", "Local"}),
        Str("externalTrafficPolicy", "The same for traffic from outside the cluster.")
            .Enum({"Cluster", "Local"}),
        Bool("publishNotReadyAddresses",
             "Whether pods that are not ready are published as ready endpoints."),
        Str("trafficDistribution",
            "A preference for how traffic is spread, e.g. PreferClose (zone hints)."),
        Str("externalName", "The DNS name an ExternalName Service points to."),
        Str("loadBalancerIP", "A requested load balancer IP (deprecated)."),
        Int("healthCheckNodePort", "The node port for load balancer health checks."),
        Any("sessionAffinityConfig", "Settings of ClientIP affinity.")});
  type(N(kCore, "ServicePort"), "One port of a Service.",
       {Str("name", "The port's name; required when the Service has several ports."),
        Str("protocol", "TCP, UDP or SCTP.").Default("\"TCP\"").Enum({"TCP", "UDP", "SCTP"}),
        Str("appProtocol", "The application protocol, e.g. kubernetes.io/h2c for gRPC."),
        Int("port", "The port the Service exposes.").Required(),
        IntOrStr("targetPort",
                 "The port on the pods: a number, or the name of a container port. Defaults "
                 "to port."),
        Int("nodePort", "The node port of a NodePort or LoadBalancer Service.")});
  type(N(kCore, "ServiceStatus"), "The observed state of a Service.",
       {Obj("loadBalancer", N(kCore, "LoadBalancerStatus"), "The load balancer, if any."),
        Keyed("conditions", N(kMeta, "Condition"), {"type"}, "type", "The Service's conditions.")});
  type(N(kCore, "LoadBalancerStatus"), "A load balancer's addresses.",
       {List("ingress", N(kCore, "LoadBalancerIngress"), "Where the load balancer listens.")});
  type(N(kCore, "LoadBalancerIngress"), "A load balancer address.",
       {Str("ip", "An IP address."), Str("hostname", "A DNS name.")});
  type(N(kMeta, "Condition"), "A condition of an object.",
       {Str("type", "The condition's type, in CamelCase.").Required(),
        Str("status", "True, False or Unknown.").Required(),
        Int("observedGeneration", "The generation the condition was set for."),
        Time("lastTransitionTime", "When the status last changed.").Required(),
        Str("reason", "A CamelCase reason for the last transition.").Required(),
        Str("message", "Details of the last transition.").Required()});

  // --- Namespaces ----------------------------------------------------------------
  type(N(kCore, "NamespaceSpec"), "The desired state of a namespace.",
       {StrList("finalizers", "What must finish before the namespace is removed.")});
  type(N(kCore, "NamespaceStatus"), "The observed state of a namespace.",
       {Str("phase", "Active, or Terminating while it is deleted.").Enum({"Active", "Terminating"}),
        Keyed("conditions", N(kCore, "NamespaceCondition"), {"type"}, "type",
              "The namespace's conditions.")});
  type(N(kCore, "NamespaceCondition"), "A condition of a namespace.",
       {Str("type", "The condition's type.").Required(),
        Str("status", "True, False or Unknown.").Required(),
        Time("lastTransitionTime", "When it last changed."), Str("reason", "Why."),
        Str("message", "Details.")});

  // --- Nodes ---------------------------------------------------------------------
  type(N(kCore, "NodeSpec"), "The desired state of a node.",
       {Str("podCIDR", "The pod IP range assigned to the node."),
        StrList("podCIDRs", "The pod IP ranges assigned to the node."),
        Str("providerID", "The node's ID at its cloud provider."),
        Bool("unschedulable", "New pods are not scheduled onto the node (cordoned)."),
        List("taints", N(kCore, "Taint"), "Taints that repel pods without a toleration.")});
  type(N(kCore, "Taint"), "A taint on a node.",
       {Str("key", "The taint's key.").Required(), Str("value", "The taint's value."),
        Str("effect", "NoSchedule, PreferNoSchedule or NoExecute.").Required(),
        Time("timeAdded", "When a NoExecute taint was added.")});
  type(N(kCore, "NodeStatus"), "The observed state of a node.",
       {Keyed("conditions", N(kCore, "NodeCondition"), {"type"}, "type",
              "Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable."),
        Keyed("addresses", N(kCore, "NodeAddress"), {"type"}, "type",
              "The node's addresses: InternalIP, ExternalIP, Hostname."),
        StrMap("capacity", "The node's resources."),
        StrMap("allocatable", "The resources available to pods."),
        Obj("nodeInfo", N(kCore, "NodeSystemInfo"), "Versions of the node's software.")});
  type(N(kCore, "NodeCondition"), "A condition of a node.",
       {Str("type", "The condition's type.").Required(),
        Str("status", "True, False or Unknown.").Required(),
        Time("lastHeartbeatTime", "When it was last reported."),
        Time("lastTransitionTime", "When it last changed."), Str("reason", "Why."),
        Str("message", "Details.")});
  type(N(kCore, "NodeAddress"), "An address of a node.",
       {Str("type", "InternalIP, ExternalIP, Hostname, ...").Required(),
        Str("address", "The address.").Required()});
  type(N(kCore, "NodeSystemInfo"), "Versions of a node's software.",
       {Str("kubeletVersion", "The kubelet's version."),
        Str("kubeProxyVersion", "The kube-proxy's version (deprecated)."),
        Str("containerRuntimeVersion", "The container runtime and its version."),
        Str("osImage", "The OS image."), Str("kernelVersion", "The kernel's version."),
        Str("operatingSystem", "linux or windows."), Str("architecture", "amd64, arm64, ..."),
        Str("machineID", "The machine's ID."), Str("systemUUID", "The system's UUID."),
        Str("bootID", "The boot's ID.")});

  // --- Endpoints -----------------------------------------------------------------
  type(N(kCore, "EndpointSubset"), "Addresses that share a set of ports.",
       {List("addresses", N(kCore, "EndpointAddress"), "Ready addresses."),
        List("notReadyAddresses", N(kCore, "EndpointAddress"),
             "Addresses of pods that are not ready (or are terminating)."),
        List("ports", N(kCore, "EndpointPort"), "The ports of these addresses.")});
  type(N(kCore, "EndpointAddress"), "One address of an Endpoints subset.",
       {Str("ip", "The pod's IP.").Required(), Str("hostname", "The pod's hostname, if set."),
        Str("nodeName", "The pod's node."),
        Obj("targetRef", N(kCore, "ObjectReference"), "The pod behind the address.")});
  type(N(kCore, "EndpointPort"), "A port of an Endpoints subset.",
       {Str("name", "The Service port's name."), Int("port", "The port number.").Required(),
        Str("protocol", "TCP, UDP or SCTP.").Default("\"TCP\""),
        Str("appProtocol", "The application protocol.")});
  type(N(kDisc, "Endpoint"), "One endpoint of an EndpointSlice: usually one pod.",
       {StrSet("addresses", "The endpoint's addresses (one for IPv4/IPv6 slices).", false)
            .Required(),
        Obj("conditions", N(kDisc, "EndpointConditions"), "Whether the endpoint can take traffic."),
        Str("hostname", "The pod's hostname, if set."),
        Obj("targetRef", N(kCore, "ObjectReference"), "The pod behind the endpoint."),
        Str("nodeName", "The node of the pod."),
        Str("zone", "The zone of that node (topology.kubernetes.io/zone)."),
        Obj("hints", N(kDisc, "EndpointHints"), "Where clients should prefer this endpoint.")});
  type(N(kDisc, "EndpointConditions"), "The readiness of an endpoint.",
       {Bool("ready",
             "The pod is ready and not terminating (or the Service publishes not-ready "
             "addresses)."),
        Bool("serving", "The pod is ready, whether or not it is terminating."),
        Bool("terminating", "The pod is being deleted.")});
  type(N(kDisc, "EndpointHints"), "Topology hints for clients.",
       {List("forZones", N(kDisc, "ForZone"), "The zones whose clients should use the endpoint."),
        List("forNodes", N(kDisc, "ForNode"), "The nodes whose clients should use it.")});
  type(N(kDisc, "ForZone"), "A zone in a hint.", {Str("name", "The zone's name.").Required()});
  type(N(kDisc, "ForNode"), "A node in a hint.", {Str("name", "The node's name.").Required()});
  type(N(kDisc, "EndpointPort"), "A port of an EndpointSlice.",
       {Str("name", "The Service port's name."),
        Str("protocol", "TCP, UDP or SCTP.").Default("\"TCP\""),
        Int("port", "The port number on the endpoints."),
        Str("appProtocol", "The application protocol.")});
  type(N(kCore, "ObjectReference"), "A reference to another object.",
       {Str("kind", "Its kind."), Str("namespace", "Its namespace."), Str("name", "Its name."),
        Str("uid", "Its uid."), Str("apiVersion", "Its API version."),
        Str("resourceVersion", "The version referred to."),
        Str("fieldPath", "A part of the object, e.g. spec.containers{web}.")});

  // --- Events --------------------------------------------------------------------
  type(N(kCore, "EventSource"), "Who reported an event.",
       {Str("component", "The component, e.g. kubelet or fakek8s."),
        Str("host", "The node it ran on.")});
  type(N(kCore, "EventSeries"), "A series of repeated events.",
       {Int("count", "How many times it occurred in the series."),
        Time("lastObservedTime", "When it last occurred.")});
  type(N(kEvents, "EventSeries"), "A series of repeated events.",
       {Int("count", "How many times it occurred in the series.").Required(),
        Time("lastObservedTime", "When it last occurred.").Required()});

  // --- Reviews -------------------------------------------------------------------
  type(N(kAuthz, "SelfSubjectAccessReviewSpec"), "The action a SelfSubjectAccessReview checks.",
       {Obj("resourceAttributes", N(kAuthz, "ResourceAttributes"), "An action on a resource."),
        Obj("nonResourceAttributes", N(kAuthz, "NonResourceAttributes"),
            "An action on a path that is not a resource, such as /healthz.")});
  type(N(kAuthz, "ResourceAttributes"), "An action on a resource.",
       {Str("namespace", "The namespace (\"\" for all namespaces or the cluster scope)."),
        Str("verb", "get, list, watch, create, update, patch, delete or *."),
        Str("group", "The API group (\"\" for the core group)."),
        Str("version", "The API version."), Str("resource", "The resource's plural name."),
        Str("subresource", "A subresource, e.g. status."),
        Str("name", "One object's name (\"\" for all).")});
  type(N(kAuthz, "NonResourceAttributes"), "An action on a non-resource path.",
       {Str("path", "The URL path."), Str("verb", "The HTTP verb, in lower case.")});
  type(N(kAuthz, "SubjectAccessReviewStatus"), "The answer to an access review.",
       {Bool("allowed", "Whether the action is allowed.").Required(),
        Bool("denied", "Whether the action is explicitly denied."),
        Str("reason", "Why, for people."),
        Str("evaluationError", "What went wrong evaluating the rules, if anything.")});
  type(N(kAuthz, "SelfSubjectRulesReviewSpec"), "What a SelfSubjectRulesReview asks about.",
       {Str("namespace", "The namespace to list rules for.")});
  type(N(kAuthz, "SubjectRulesReviewStatus"), "The rules that apply to the user.",
       {List("resourceRules", N(kAuthz, "ResourceRule"), "What the user may do with resources.")
            .Required(),
        List("nonResourceRules", N(kAuthz, "NonResourceRule"),
             "What the user may do with other paths.")
            .Required(),
        Bool("incomplete", "Whether the list may be incomplete.").Required(),
        Str("evaluationError", "What went wrong listing the rules, if anything.")});
  type(N(kAuthz, "ResourceRule"), "Verbs allowed on resources.",
       {StrList("verbs", "The verbs.").Required(), StrList("apiGroups", "The API groups."),
        StrList("resources", "The resources."), StrList("resourceNames", "Object names.")});
  type(N(kAuthz, "NonResourceRule"), "Verbs allowed on non-resource paths.",
       {StrList("verbs", "The verbs.").Required(), StrList("nonResourceURLs", "The paths.")});
  type(N(kAuthn, "SelfSubjectReviewStatus"), "Who the user is.",
       {Obj("userInfo", N(kAuthn, "UserInfo"), "The user's name and groups.")});
  type(N(kAuthn, "UserInfo"), "A user's identity.",
       {Str("username", "The user's name."), Str("uid", "A unique id, if any."),
        StrList("groups", "The groups the user is in."),
        Any("extra", "More information from the authenticator.")});
  return t;
}

}  // namespace

const Field* TypeDef::Find(absl::string_view field) const {
  for (const Field& f : fields) {
    if (f.name == field) return &f;
  }
  return nullptr;
}

const std::vector<TypeDef>& AllTypes() {
  static const std::vector<TypeDef>* const kTypes = new std::vector<TypeDef>(Build());
  return *kTypes;
}

const TypeDef* FindType(absl::string_view name) {
  static const auto* const kIndex = [] {
    auto* index = new std::map<std::string, const TypeDef*, std::less<>>();
    for (const TypeDef& t : AllTypes()) (*index)[t.name] = &t;
    return index;
  }();
  auto it = kIndex->find(name);
  return it == kIndex->end() ? nullptr : it->second;
}

const TypeDef* ForResource(Resource resource) {
  const ResourceInfo& info = Info(resource);
  for (const TypeDef& t : AllTypes()) {
    if (!t.kind.empty() && t.kind == info.kind && t.group == info.group &&
        t.version == info.version) {
      return &t;
    }
  }
  return nullptr;
}

const TypeDef* Nested(const Field& field) {
  if (field.ref.empty() || (field.type != Type::kObject && field.type != Type::kArray)) {
    return nullptr;
  }
  return FindType(field.ref);
}

}  // namespace fakek8s::schema
