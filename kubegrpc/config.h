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
// Users may give a token, a tokenFile, a client certificate and key, or an
// exec credential plugin (client.authentication.k8s.io v1 and v1beta1: the
// token is fetched by running it, HttpK8sClient does that when it needs one).
// The legacy auth-provider plugins are refused.
//
// Errors: FailedPrecondition when no configuration exists (not in a cluster and
// no kubeconfig), InvalidArgument when one exists but is broken (unparsable YAML,
// unknown context, unreadable certificate file, bad base64, an exec block
// without a command). Messages name the file and the field. Thread-safe (pure
// functions over the environment and files).

#ifndef KUBEGRPC_CONFIG_H_
#define KUBEGRPC_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kubegrpc {

// A kubeconfig user's exec credential plugin (users[].user.exec): a command
// that prints an ExecCredential with a token (internal/exec_credential.h).
struct ExecPlugin {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;      // a name on PATH, or a path (relative: to the kubeconfig)
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string interactive_mode = "IfAvailable";  // Never, IfAvailable, Always
  bool provide_cluster_info = false;
  std::string install_hint;
};

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
  // A plugin that gives the token (instead of `token` / `token_file`).
  std::optional<ExecPlugin> exec;
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
