// The greeter client: kube-grpc the way a service uses it. One Balancer per
// process (from the environment: in-cluster config in a pod, else $KUBECONFIG or
// ~/.kube/config), a typed handle per Service, WaitForReady at start-up, and
// the retry helper for an idempotent call.
//
//   bazel run //examples/greeter:greeter_client -- --target=greeter.demo:50051 --count=10
//
// Against the standalone fakek8s: see examples/README.md.
//
// With --xds it is a plain gRPC client instead: an xds:/// channel that gRPC's
// own xDS client balances, from the bootstrap in $GRPC_XDS_BOOTSTRAP (which
// names a kube-grpc-xds control plane: examples/k8s/xds/). No kube-grpc code
// and no Kubernetes access in the client; retries come from the Service's
// kube-grpc.io/retry annotation.

#include <functional>
#include <iostream>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "examples/greeter/wait_for_pods.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/balancer.h"

ABSL_FLAG(std::string, target, "greeter.demo:50051",
          "the Service: name[.namespace][.svc.cluster.local]:port, or kubernetes:///...");
ABSL_FLAG(int, count, 10, "calls to make");
ABSL_FLAG(std::string, name, "kube-grpc", "who to greet");
ABSL_FLAG(absl::Duration, interval, absl::ZeroDuration(), "pause between calls");
ABSL_FLAG(absl::Duration, ready_timeout, absl::Seconds(30), "how long to wait for a ready pod");
ABSL_FLAG(int, wait_for_pods, 1, "how many pods to wait for in rotation before calling");
ABSL_FLAG(bool, xds, false,
          "call through xds:///<target> (gRPC's xDS client, bootstrap from $GRPC_XDS_BOOTSTRAP) "
          "instead of a kube-grpc Balancer; --target is then name.namespace:port");

using kubegrpc::examples::Greeter;

namespace {

using kubegrpc::examples::HelloReply;
using kubegrpc::examples::HelloRequest;

// --count calls through `say_hello`, --interval apart; prints each answer and
// the calls per pod. Exit code: 0 if none failed.
int CallLoop(const std::function<grpc::Status(const HelloRequest&, HelloReply*)>& say_hello) {
  std::map<std::string, int> by_pod;
  int failed = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    HelloRequest request;
    request.set_name(absl::GetFlag(FLAGS_name));
    HelloReply reply;
    grpc::Status status = say_hello(request, &reply);
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

// The calls through a plain xDS channel: gRPC picks, from what the control
// plane serves.
int ViaXds() {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      absl::StrCat("xds:///", absl::GetFlag(FLAGS_target)), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_ready_timeout)))) {
    std::cerr << "greeter_client: xds:///" << absl::GetFlag(FLAGS_target)
              << " did not connect (is $GRPC_XDS_BOOTSTRAP set, and the control plane up?)\n";
    return 1;
  }
  std::unique_ptr<Greeter::Stub> stub = Greeter::NewStub(channel);
  return CallLoop([&](const HelloRequest& request, HelloReply* reply) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return stub->SayHello(&context, request, reply);
  });
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_xds)) return ViaXds();
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
  // SayHello is idempotent: a pod that went away is retried on another one.
  return CallLoop([&](const HelloRequest& request, HelloReply* reply) {
    return kubegrpc::Call(*greeter, &Greeter::Stub::SayHello, request, reply,
                          {.idempotent = true, .timeout = absl::Seconds(5)});
  });
}
