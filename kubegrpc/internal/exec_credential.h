// File: kubegrpc/internal/exec_credential.h
// -----------------------------------------------------------------------------
// Running a kubeconfig's exec credential plugin (users[].user.exec, as EKS,
// GKE and AKS kubeconfigs use: client.authentication.k8s.io/v1 or v1beta1
// ExecCredential) and reading the token it prints.
//
// The plugin runs without a shell (posix_spawnp), with its `env` added and
// KUBERNETES_EXEC_INFO describing the request (never interactive: kube-grpc is
// a library; with provideClusterInfo, the cluster's server and CA too), stdin
// from /dev/null, in a process group of its own that is killed if it runs
// past `timeout`. At most 1 MiB of stdout and 64 KiB of stderr are kept.
//
// Errors are Unauthenticated, naming the plugin's command and the cause: not
// found (with the kubeconfig's installHint), a non-zero exit (quoting the start
// of its stderr, credentials redacted), a timeout, output that is not an
// ExecCredential of the requested version, an interactive-only plugin, or a
// client certificate instead of a token (not supported).
// Thread-safe (each call runs its own process).

#ifndef KUBEGRPC_INTERNAL_EXEC_CREDENTIAL_H_
#define KUBEGRPC_INTERNAL_EXEC_CREDENTIAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kubegrpc/config.h"

namespace kubegrpc::internal {

struct ExecCredential {
  std::string token;
  absl::Time expires = absl::InfiniteFuture();  // no expirationTimestamp: until a 401
};

// Runs `config.exec` (which must be set) for the cluster `config` describes.
absl::StatusOr<ExecCredential> RunExecPlugin(const ClusterConfig& config, absl::Duration timeout);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_EXEC_CREDENTIAL_H_
