// File: kubegrpc/config.h
// -----------------------------------------------------------------------------
// Where the Kubernetes API server is and how to talk to it: from the pod's
// service account (in cluster) or from a kubeconfig file (outside a cluster).
//
//   absl::StatusOr<kubegrpc::ClusterConfig> config = kubegrpc::DefaultConfig();
//   // in a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the
//   // service-account token (re-read as the kubelet rotates it) and CA;
//   // elsewhere: $KUBECONFIG (a ':'-separated list) or ~/.kube/config.
//
// Errors: FailedPrecondition when no configuration exists (not in a cluster and
// no kubeconfig), InvalidArgument when one exists but is broken (unparsable YAML,
// unknown context, unreadable certificate file, bad base64). Messages name the
// file and the field. Thread-safe (pure functions over the environment and files).

#ifndef KUBEGRPC_CONFIG_H_
#define KUBEGRPC_CONFIG_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace kubegrpc {

struct ClusterConfig {
  std::string server;  // "https://10.0.0.1:443"
  // PEM CA certificates to verify the server with; empty means the system roots.
  std::string ca_pem;
  // Skip verifying the server's certificate (only on explicit request; logged).
  bool insecure_skip_tls_verify = false;
  // The name to verify in the server's certificate instead of the URL's host.
  std::string tls_server_name;
  // A bearer token, fixed, or read from `token_file` (and re-read as it rotates).
  std::string token;
  std::string token_file;
  // A client certificate and key (PEM) for mutual TLS.
  std::string client_cert_pem;
  std::string client_key_pem;
  // The namespace of targets that name none.
  std::string ns = "default";
  // Where this came from, for messages: "in-cluster" or "kubeconfig <path>, context <c>".
  std::string source;
};

// How to find the in-cluster configuration (the defaults are a real pod's).
struct InClusterOptions {
  std::function<std::string(const std::string&)> getenv;  // default: ::getenv
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
absl::StatusOr<ClusterConfig> InClusterConfig(const InClusterOptions& options = {});

struct KubeconfigOptions {
  // ':'-separated kubeconfig paths; default: $KUBECONFIG, else $HOME/.kube/config.
  std::string paths;
  // The context to use; default: current-context.
  std::string context;
  std::function<std::string(const std::string&)> getenv;  // default: ::getenv
};
absl::StatusOr<ClusterConfig> KubeconfigConfig(const KubeconfigOptions& options = {});

// In-cluster if KUBERNETES_SERVICE_HOST is set, else the kubeconfig.
absl::StatusOr<ClusterConfig> DefaultConfig();

}  // namespace kubegrpc

#endif  // KUBEGRPC_CONFIG_H_
