// kube-grpc-xds: one xDS control plane for a fleet of gRPC clients.
//
// It watches each Service once, when a client first asks for it, and serves
// its endpoints over ADS (state of the world, v3) to every client that asks:
// API load is O(Services), not O(clients x Services). Clients are gRPC's own
// xDS clients (any language) with a bootstrap naming this server:
//
//   {"xds_servers": [{"server_uri": "kube-grpc-xds.kube-grpc.svc:18000",
//                     "channel_creds": [{"type": "insecure"}],
//                     "server_features": ["xds_v3"]}],
//    "node": {"id": "my-client"}}
//
// and targets xds:///greeter.prod:50051. See examples/k8s/xds/.
//
//   kube-grpc-xds [--listen=0.0.0.0:18000] [--kubeconfig=FILE] [--namespaces=a,b]
//                 [--tls_cert=FILE --tls_key=FILE [--client_ca=FILE]]
//
// Also serves grpc.health.v1 on the same port (SERVING while it runs). Stops
// on SIGTERM or SIGINT: open streams are closed, and clients keep their last
// endpoints and reconnect (to another replica behind the Service).

#include <pthread.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "kubegrpc/config.h"
#include "kubegrpc/http_k8s_client.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/xds/ads_server.h"
#include "tools/flags/usage.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:18000", "address to serve ADS (and health) on");
ABSL_FLAG(std::string, kubeconfig, "",
          "kubeconfig file; default: the in-cluster config in a pod, else $KUBECONFIG or "
          "~/.kube/config");
ABSL_FLAG(std::string, context, "", "kubeconfig context (default: its current-context)");
ABSL_FLAG(std::string, namespaces, "",
          "comma-separated namespaces whose Services may be served; default: any the "
          "service account may list (others are answered as does-not-exist)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain for this server's port");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, client_ca, "",
          "PEM CA bundle: require clients to present a certificate it signed (mTLS)");
ABSL_FLAG(absl::Duration, unsubscribe_grace, absl::Seconds(30),
          "how long a Service stays watched after its last client left");
ABSL_FLAG(absl::Duration, resync, absl::Minutes(5),
          "discovery's relist interval (annotations are re-read then)");

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--", flag, "=", path, ": cannot read it"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string ca = absl::GetFlag(FLAGS_client_ca);
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (cert.empty()) {
    if (!ca.empty())
      return absl::InvalidArgumentError("--client_ca needs --tls_cert and --tls_key");
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options(
      ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                 : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  absl::StatusOr<std::string> cert_pem = ReadFile(cert, "tls_cert");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile(key, "tls_key");
  if (!key_pem.ok()) return key_pem.status();
  if (!ca.empty()) {
    absl::StatusOr<std::string> ca_pem = ReadFile(ca, "client_ca");
    if (!ca_pem.ok()) return ca_pem.status();
    options.pem_root_certs = *ca_pem;
  }
  options.pem_key_cert_pairs.push_back({*key_pem, *cert_pem});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<kubegrpc::ClusterConfig> Config() {
  const std::string path = kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_kubeconfig));
  if (path.empty() && absl::GetFlag(FLAGS_context).empty()) return kubegrpc::DefaultConfig();
  kubegrpc::KubeconfigOptions options;
  options.paths = path;
  options.context = absl::GetFlag(FLAGS_context);
  return kubegrpc::KubeconfigConfig(options);
}

int Fail(const absl::Status& status) {
  std::cerr << "kube-grpc-xds: " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  kubegrpc::tools::ParseFlags(
      argc, argv,
      "kube-grpc-xds: an xDS control plane (ADS v3) that serves Kubernetes Services' "
      "endpoints to gRPC's own xDS clients, watching each Service once for the whole fleet.\n"
      "  kube-grpc-xds [--listen=0.0.0.0:18000] [--kubeconfig=FILE] [--namespaces=a,b] "
      "[--tls_cert=FILE --tls_key=FILE [--client_ca=FILE]]");
  // SIGTERM and SIGINT are taken by sigwait below: blocked in every thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials();
  if (!credentials.ok()) return Fail(credentials.status());
  absl::StatusOr<kubegrpc::ClusterConfig> config = Config();
  if (!config.ok()) return Fail(config.status());
  absl::StatusOr<std::unique_ptr<kubegrpc::HttpK8sClient>> client =
      kubegrpc::HttpK8sClient::Create(*config);
  if (!client.ok()) return Fail(client.status());
  kubegrpc::DiscoveryOptions discovery;
  discovery.resync_interval = absl::GetFlag(FLAGS_resync);
  std::shared_ptr<kubegrpc::ServiceRegistry> registry = kubegrpc::ServiceRegistry::Create(
      std::shared_ptr<kubegrpc::K8sClient>(*std::move(client)), discovery);

  kubegrpc::xds::AdsServerOptions options;
  options.unsubscribe_grace = absl::GetFlag(FLAGS_unsubscribe_grace);
  options.credentials = *credentials;
  for (absl::string_view ns :
       absl::StrSplit(absl::GetFlag(FLAGS_namespaces), ',', absl::SkipWhitespace())) {
    options.namespaces.insert(std::string(ns));
  }
  options.on_log = [](const std::string& line) { std::cerr << line << "\n"; };
  // grpc.health.v1 on the same server (the readiness probe's).
  grpc::EnableDefaultHealthCheckService(true);
  absl::StatusOr<std::unique_ptr<kubegrpc::xds::AdsServer>> server =
      kubegrpc::xds::AdsServer::Start(registry.get(), absl::GetFlag(FLAGS_listen), options);
  if (!server.ok()) return Fail(server.status());
  std::cout << "kube-grpc-xds: serving ADS on " << absl::GetFlag(FLAGS_listen) << " (port "
            << (*server)->port() << ", "
            << (absl::GetFlag(FLAGS_tls_cert).empty()    ? "plaintext"
                : absl::GetFlag(FLAGS_client_ca).empty() ? "TLS"
                                                         : "mTLS")
            << "), API server " << config->server << ", namespaces "
            << (options.namespaces.empty() ? "any" : absl::GetFlag(FLAGS_namespaces)) << "\n"
            << std::flush;

  int signal = 0;
  sigwait(&signals, &signal);
  std::cout << "kube-grpc-xds: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", stopping\n"
            << std::flush;
  (*server)->Shutdown();
  return 0;
}
