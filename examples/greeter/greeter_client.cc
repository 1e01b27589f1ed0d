// The greeter client: kube-grpc the way a service uses it. One Balancer per
// process (from the environment: in-cluster config in a pod, else $KUBECONFIG or
// ~/.kube/config), a typed handle per Service, WaitForReady at start-up, and
// the retry helper for an idempotent call.
//
//   bazel run //examples/greeter:greeter_client -- --target=greeter.demo:50051 --count=10
//
// Against the standalone fakek8s: see examples/README.md.

#include <iostream>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "examples/greeter/wait_for_pods.h"
#include "kubegrpc/balancer.h"

ABSL_FLAG(std::string, target, "greeter.demo:50051",
          "the Service: name[.namespace][.svc.cluster.local]:port, or kubernetes:///...");
ABSL_FLAG(int, count, 10, "calls to make");
ABSL_FLAG(std::string, name, "kube-grpc", "who to greet");
ABSL_FLAG(absl::Duration, interval, absl::ZeroDuration(), "pause between calls");
ABSL_FLAG(absl::Duration, ready_timeout, absl::Seconds(30), "how long to wait for a ready pod");
ABSL_FLAG(int, wait_for_pods, 1, "how many pods to wait for in rotation before calling");

using kubegrpc::examples::Greeter;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // From the environment: in a pod, its ServiceAccount; elsewhere, the kubeconfig.
  absl::StatusOr<std::unique_ptr<kubegrpc::Balancer>> balancer = kubegrpc::Balancer::Create();
  if (!balancer.ok()) {
    std::cerr << "greeter_client: " << balancer.status() << "\n";
    return 1;
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  // Typed handle: one Greeter::Stub per pod, made once and reused.
  absl::StatusOr<kubegrpc::StubHandle<Greeter>> greeter = (*balancer)->Connect<Greeter>(target);
  if (!greeter.ok()) {
    std::cerr << "greeter_client: " << greeter.status() << "\n";
    return 1;
  }
  if (absl::Status ready =
          (*balancer)->WaitForReady(target, absl::Now() + absl::GetFlag(FLAGS_ready_timeout));
      !ready.ok()) {
    std::cerr << "greeter_client: " << ready << "\n";
    return 1;
  }
  if (absl::Status all = kubegrpc::examples::WaitForPodsInRotation(
          **balancer, absl::GetFlag(FLAGS_wait_for_pods),
          absl::Now() + absl::GetFlag(FLAGS_ready_timeout));
      !all.ok()) {
    std::cerr << "greeter_client: " << all << "\n";
    return 1;
  }
  std::map<std::string, int> by_pod;
  int failed = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    kubegrpc::examples::HelloRequest request;
    request.set_name(absl::GetFlag(FLAGS_name));
    kubegrpc::examples::HelloReply reply;
    // SayHello is idempotent: a pod that went away is retried on another one.
    grpc::Status status = kubegrpc::Call(*greeter, &Greeter::Stub::SayHello, request, &reply,
                                         {.idempotent = true, .timeout = absl::Seconds(5)});
    if (status.ok()) {
      ++by_pod[reply.pod()];
      std::cout << reply.pod() << ": " << reply.message() << "\n";
    } else {
      ++failed;
      std::cout << "failed: " << status.error_code() << " " << status.error_message() << "\n";
    }
    if (absl::GetFlag(FLAGS_interval) > absl::ZeroDuration()) {
      absl::SleepFor(absl::GetFlag(FLAGS_interval));
    }
  }
  std::cout << "calls per pod:";
  for (const auto& [pod, n] : by_pod) std::cout << " " << pod << "=" << n;
  std::cout << "\nfailed: " << failed << std::endl;
  return failed == 0 ? 0 : 1;
}
