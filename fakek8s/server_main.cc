// fakek8s as a standalone process: a fake Kubernetes API server on loopback that
// kubectl, the python client and kube-grpc can talk to.
//
//   bazel run //fakek8s:server -- --kubeconfig_out=/tmp/fakek8s.kubeconfig
//
// By default it serves HTTPS on a free port with a demo Service (demo/web, three
// ready pods on 127.0.10.1-3, port 80 -> 8080); --manifests loads your own
// objects instead. It seeds the store before it listens, writes a kubeconfig
// (and, with --admin_kubeconfig_out, one for an identity that may do anything),
// prints how to use them, then serves until interrupted.

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "tools/flags/usage.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "loopback address to listen on");
ABSL_FLAG(int, port, 0, "port to listen on (0: any free port)");
ABSL_FLAG(bool, tls, true, "serve HTTPS with a generated CA (in the kubeconfig)");
ABSL_FLAG(std::string, token, "", "require this bearer token (written to the kubeconfig)");
ABSL_FLAG(std::string, kubeconfig_out, "",
          "where to write a kubeconfig for this server (default: print it)");
ABSL_FLAG(std::string, admin_kubeconfig_out, "",
          "where to write a kubeconfig for an admin identity that --rbac_roles does not "
          "limit (to change the cluster with kubectl while a client runs)");
ABSL_FLAG(std::string, manifests, "",
          "YAML/JSON manifests (Namespaces, Services, Pods, ...) to load instead of the demo");
ABSL_FLAG(std::string, ns, "demo", "namespace of the demo Service");
ABSL_FLAG(std::string, service, "web", "name of the demo Service");
ABSL_FLAG(int, replicas, 3, "ready pods behind the demo Service");
ABSL_FLAG(int, service_port, 80, "the demo Service's port");
ABSL_FLAG(int, target_port, 8080, "the demo pods' container port (the endpoints' port)");
ABSL_FLAG(int, bookmark_interval_seconds, 60, "BOOKMARK interval on idle watches");
ABSL_FLAG(
    std::string, rbac_roles, "",
    "with --token: hold the token's user to the rules of the kind: Role and ClusterRole documents "
    "in this manifest file (e.g. examples/k8s/greeter.yaml); default: no limits");
ABSL_FLAG(int, pod_termination_seconds, 0,
          "how long a deleted pod stays terminating before it is removed");

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  kubegrpc::tools::ParseFlags(
      argc, argv,
      "fakek8s: a fake Kubernetes API server on loopback, for kubectl, the python client "
      "and kube-grpc.\n"
      "  bazel run //fakek8s:server -- --kubeconfig_out=/tmp/fakek8s.kubeconfig [flags]");
  fakek8s::FakeKubernetes::Options options;
  options.server.host = absl::GetFlag(FLAGS_host);
  options.server.port = absl::GetFlag(FLAGS_port);
  options.server.tls = absl::GetFlag(FLAGS_tls);
  options.server.bookmark_interval = absl::Seconds(absl::GetFlag(FLAGS_bookmark_interval_seconds));
  options.server.pod_termination_delay =
      absl::Seconds(absl::GetFlag(FLAGS_pod_termination_seconds));

  // The objects are in the store before the server listens.
  const std::string manifests =
      kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_manifests));
  std::string manifest_text;
  if (!manifests.empty()) {
    std::ifstream in(manifests);
    if (!in) {
      std::cerr << "fakek8s: cannot read --manifests " << manifests << "\n";
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    manifest_text = text.str();
  }
  std::vector<std::string> namespaces;
  options.seed = [&](fakek8s::ObjectStore& store) {
    if (!manifests.empty()) return fakek8s::SeedFromManifests(store, manifest_text, &namespaces);
    return fakek8s::SeedDemo(store, {.ns = absl::GetFlag(FLAGS_ns),
                                     .service = absl::GetFlag(FLAGS_service),
                                     .replicas = absl::GetFlag(FLAGS_replicas),
                                     .port = absl::GetFlag(FLAGS_service_port),
                                     .target_port = absl::GetFlag(FLAGS_target_port)});
  };
  absl::StatusOr<std::unique_ptr<fakek8s::FakeKubernetes>> k8s =
      fakek8s::FakeKubernetes::Start(options);
  if (!k8s.ok()) {
    std::cerr << "fakek8s: " << k8s.status() << "\n";
    return 1;
  }
  fakek8s::FakeKubernetes& cluster = **k8s;

  const std::string token = absl::GetFlag(FLAGS_token);
  if (!token.empty()) cluster.server().AddToken(token, "fakek8s-user");
  if (const std::string roles =
          kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_rbac_roles));
      !roles.empty()) {
    std::ifstream in(roles);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::vector<fakek8s::RbacRule>> rules =
        in ? fakek8s::RbacRulesFromRoles(text.str())
           : absl::NotFoundError("cannot read --rbac_roles " + roles);
    if (token.empty() || !rules.ok()) {
      std::cerr << "fakek8s: --rbac_roles: "
                << (rules.ok() ? "needs --token" : rules.status().ToString()) << "\n";
      return 1;
    }
    cluster.server().SetRules("fakek8s-user", *std::move(rules));
  }
  // The kubeconfig's namespace: the demo's, or the manifests' first.
  std::string ns = absl::GetFlag(FLAGS_ns);
  if (!manifests.empty()) ns = namespaces.empty() ? "default" : namespaces.front();
  const std::string kubeconfig_out =
      kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_kubeconfig_out));
  std::cout << "fakek8s: serving the Kubernetes API at " << cluster.server().url() << "\n";
  if (kubeconfig_out.empty()) {
    std::cout << "fakek8s: kubeconfig:\n" << cluster.server().Kubeconfig(token, ns);
  } else if (absl::Status s = cluster.WriteKubeconfig(kubeconfig_out, token, ns); !s.ok()) {
    std::cerr << "fakek8s: " << s << "\n";
    return 1;
  } else {
    std::cout << "fakek8s: kubeconfig written to " << kubeconfig_out << " (namespace " << ns
              << ")\n"
              << "fakek8s: try   kubectl --kubeconfig=" << kubeconfig_out
              << " get endpointslices,endpoints,services,pods\n";
  }
  const std::string admin_out =
      kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_admin_kubeconfig_out));
  if (!admin_out.empty()) {
    // With a token, the admin has its own (no rules limit it); without one,
    // every request is allowed and the admin needs none.
    std::string admin_token;
    if (!token.empty()) {
      admin_token = absl::StrCat("admin-", token);
      cluster.server().AddToken(admin_token, "fakek8s-admin");
    }
    if (absl::Status s = cluster.WriteKubeconfig(admin_out, admin_token, ns); !s.ok()) {
      std::cerr << "fakek8s: " << s << "\n";
      return 1;
    }
    std::cout << "fakek8s: admin kubeconfig written to " << admin_out
              << " (for kubectl patch/delete while a client runs)\n";
  }
  std::cout << "fakek8s: Ctrl-C to stop" << std::endl;

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) absl::SleepFor(absl::Milliseconds(100));
  std::cout << "fakek8s: stopping" << std::endl;
  return 0;
}
