// The original Go package's interface, in C++: implement GrpcKubeBalancer for
// your client type (how to make one from a channel, how to ping it) and call
// kubegrpc::Connect(balancer, target, kube_balancer) wherever you need a client.
// Clients are made once per pod and reused; Ping becomes the Service's health
// check (a failing pod leaves the rotation until it answers again).
//
//   bazel run //examples/greeter:original_interface -- --target=greeter.demo:50051

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "examples/greeter/wait_for_pods.h"
#include "kubegrpc/balancer.h"

ABSL_FLAG(std::string, target, "greeter.demo:50051", "the Service");
ABSL_FLAG(int, count, 6, "calls to make");
ABSL_FLAG(int, wait_for_pods, 1,
          "how many pods to wait for in rotation (their first Ping passed) before calling");

using kubegrpc::examples::Greeter;

// The user's side of the interface.
class GreeterBalancer : public kubegrpc::GrpcKubeBalancer<Greeter::Stub> {
 public:
  std::unique_ptr<Greeter::Stub> NewGrpcClient(
      const std::shared_ptr<grpc::Channel>& channel) override {
    return Greeter::NewStub(channel);
  }
  absl::Status Ping(Greeter::Stub& client) override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    kubegrpc::examples::HelloRequest request;
    request.set_name("ping");
    kubegrpc::examples::HelloReply reply;
    grpc::Status status = client.SayHello(&context, request, &reply);
    return status.ok() ? absl::OkStatus() : absl::UnavailableError(status.error_message());
  }
};

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Declared before the Balancer, so it outlives it: the Balancer's health checks
  // call its Ping until the Balancer is gone.
  GreeterBalancer kube_balancer;
  absl::StatusOr<std::unique_ptr<kubegrpc::Balancer>> balancer = kubegrpc::Balancer::Create();
  if (!balancer.ok()) {
    std::cerr << "original_interface: " << balancer.status() << "\n";
    return 1;
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  if (absl::Status ready = (*balancer)->WaitForReady(target, absl::Now() + absl::Seconds(30));
      !ready.ok()) {
    std::cerr << "original_interface: " << ready << "\n";
    return 1;
  }
  // The first pod is ready; the others join as their first Ping passes.
  if (absl::Status all = kubegrpc::examples::WaitForPodsInRotation(
          **balancer, absl::GetFlag(FLAGS_wait_for_pods), absl::Now() + absl::Seconds(30));
      !all.ok()) {
    std::cerr << "original_interface: " << all << "\n";
    return 1;
  }
  std::map<std::string, int> by_pod;
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    // Connect on every call, as the original's users did: cheap (no lock, no
    // new client), round-robin over the ready pods.
    absl::StatusOr<std::shared_ptr<Greeter::Stub>> client =
        kubegrpc::Connect(**balancer, target, kube_balancer);
    if (!client.ok()) {
      std::cerr << "original_interface: " << client.status() << "\n";
      return 1;
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    kubegrpc::examples::HelloRequest request;
    request.set_name("original");
    kubegrpc::examples::HelloReply reply;
    grpc::Status status = (*client)->SayHello(&context, request, &reply);
    if (!status.ok()) {
      std::cerr << "original_interface: " << status.error_message() << "\n";
      return 1;
    }
    ++by_pod[reply.pod()];
  }
  std::cout << "calls per pod:";
  for (const auto& [pod, n] : by_pod) std::cout << " " << pod << "=" << n;
  std::cout << std::endl;
  return 0;
}
