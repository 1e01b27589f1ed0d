// A stand-alone "pod": serves the echo/identity service and grpc.health.v1 on one
// address, the way each replica of a real gRPC Deployment would. Run several on
// different loopback addresses to play a Service's pods by hand:
//
//   bazel run //examples:echo_server -- --address=127.0.0.2:50051 --pod_name=web-0
//
// Every Echo response names the pod that answered.

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "testing/proto/echo.grpc.pb.h"

ABSL_FLAG(std::string, address, "127.0.0.1:0", "host:port to listen on (port 0 picks a free port)");
ABSL_FLAG(std::string, pod_name, "echo-0", "the pod name reported in responses");

namespace {

class EchoService final : public kubegrpc::testing::Echo::Service {
 public:
  EchoService(std::string pod_name, std::string pod_ip)
      : pod_name_(std::move(pod_name)), pod_ip_(std::move(pod_ip)) {}

  grpc::Status Echo(grpc::ServerContext* context, const kubegrpc::testing::EchoRequest* request,
                    kubegrpc::testing::EchoResponse* response) override {
    response->set_message(request->message());
    response->set_pod_name(pod_name_);
    response->set_pod_ip(pod_ip_);
    response->set_incarnation(1);
    response->set_served_count(served_.fetch_add(1, std::memory_order_relaxed) + 1);
    response->set_peer(context->peer());
    return grpc::Status::OK;
  }

 private:
  const std::string pod_name_;
  const std::string pod_ip_;
  std::atomic<uint64_t> served_{0};
};

// Always SERVING for the whole server and the echo service; NOT_FOUND otherwise.
class HealthService final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!request->service().empty() &&
        request->service() != kubegrpc::testing::Echo::service_full_name()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + request->service());
    }
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string address = absl::GetFlag(FLAGS_address);
  // "127.0.0.2:50051" -> "127.0.0.2"; "[::1]:50051" -> "::1".
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  EchoService echo(absl::GetFlag(FLAGS_pod_name), host);
  HealthService health;

  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&echo);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "echo_server: cannot listen on " << address << "\n";
    return 1;
  }
  std::cout << "echo_server: pod " << absl::GetFlag(FLAGS_pod_name) << " listening on " << host
            << ":" << port << std::endl;

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Finish in-flight calls, like a pod's graceful shutdown, for at most 5 s.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
