// The consumer workspace's client: kube-grpc from another WORKSPACE, end to end
// on loopback: a fake cluster with three pods, a Balancer, round-robin calls.
#include <iostream>
#include <map>

#include "hello.pb.h"
#include "kubegrpc/balancer.h"
#include "testing/fake_cluster.h"
#include "testing/proto/echo.grpc.pb.h"

using kubegrpc::testing::Echo;

int main() {
  auto cluster = kubegrpc::testing::FakeCluster::Start();
  if (!cluster.ok() || !(*cluster)->CreateDeployment({.name = "web", .replicas = 3}).ok()) {
    std::cerr << "consumer: cannot start the fake cluster\n";
    return 1;
  }
  auto balancer = kubegrpc::Balancer::Create((*cluster)->client_config());
  if (!balancer.ok()) {
    std::cerr << "consumer: " << balancer.status() << "\n";
    return 1;
  }
  auto echo = (*balancer)->Connect<Echo>("web.demo:80");
  if (!echo.ok() ||
      !(*balancer)->WaitForReady("web.demo:80", absl::Now() + absl::Seconds(30)).ok()) {
    std::cerr << "consumer: no ready pod\n";
    return 1;
  }
  consumer::Hello hello;
  hello.mutable_request()->set_message("hello from another workspace");
  std::map<std::string, int> by_pod;
  for (int i = 0; i < 30; ++i) {
    kubegrpc::testing::EchoResponse response;
    grpc::Status status =
        kubegrpc::Call(*echo, &Echo::Stub::Echo, hello.request(), &response, {.idempotent = true});
    if (!status.ok()) {
      std::cerr << "consumer: " << status.error_message() << "\n";
      return 1;
    }
    ++by_pod[response.pod_name()];
  }
  std::cout << "consumer: 30 calls:";
  for (const auto& [pod, n] : by_pod) std::cout << " " << pod << "=" << n;
  std::cout << std::endl;
  return by_pod.size() == 3 ? 0 : 1;
}
