// The greeter server: one replica ("pod") of a gRPC Deployment. Serves Greeter
// and grpc.health.v1 (which kube-grpc's health checks and a Kubernetes gRPC
// readinessProbe call). On SIGTERM it reports NOT_SERVING, lets calls in flight
// finish (up to --grace) and exits; the Deployment's preStop sleep keeps it
// serving while the endpoint change reaches every client.
//
//   bazel run //examples/greeter:greeter_server -- --address=127.0.0.2:50051 --pod_name=greeter-0
//
// In a container: --address=0.0.0.0:50051, and the pod name from the POD_NAME
// environment variable (the Downward API, see examples/k8s/greeter.yaml).

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/proto/health.grpc.pb.h"

ABSL_FLAG(std::string, address, "0.0.0.0:50051", "host:port to listen on (port 0: a free port)");
ABSL_FLAG(std::string, pod_name, "", "this replica's name (default: $POD_NAME, else the hostname)");
ABSL_FLAG(absl::Duration, grace, absl::Seconds(10), "how long calls in flight get on SIGTERM");

namespace {

std::atomic<bool> g_serving{true};
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

class GreeterService final : public kubegrpc::examples::Greeter::Service {
 public:
  explicit GreeterService(std::string pod) : pod_(std::move(pod)) {}
  grpc::Status SayHello(grpc::ServerContext*, const kubegrpc::examples::HelloRequest* request,
                        kubegrpc::examples::HelloReply* reply) override {
    reply->set_message(
        absl::StrCat("Hello, ", request->name().empty() ? "world" : request->name()));
    reply->set_pod(pod_);
    return grpc::Status::OK;
  }

 private:
  const std::string pod_;
};

class HealthService final : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!request->service().empty() &&
        request->service() != kubegrpc::examples::Greeter::service_full_name()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    }
    response->set_status(g_serving ? grpc::health::v1::HealthCheckResponse::SERVING
                                   : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }
};

std::string PodName() {
  if (std::string flag = absl::GetFlag(FLAGS_pod_name); !flag.empty()) return flag;
  if (const char* env = std::getenv("POD_NAME"); env != nullptr && *env != '\0') return env;
  char host[256] = {};
  return gethostname(host, sizeof(host) - 1) == 0 ? host : "greeter";
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string pod = PodName();
  GreeterService greeter(pod);
  HealthService health;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_address), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&greeter);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "greeter_server: cannot listen on " << absl::GetFlag(FLAGS_address) << "\n";
    return 1;
  }
  std::cout << "greeter_server " << pod << " listening on port " << port << std::endl;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  while (!g_stop) absl::SleepFor(absl::Milliseconds(50));
  g_serving = false;
  std::cout << "greeter_server " << pod << ": stopping" << std::endl;
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_grace)));
  return 0;
}
