// For http_k8s_client_test: an HttpK8sClient alone in a process whose SIGPIPE
// has its default action (no in-process server has set it to SIG_IGN). It
// cancels watches mid-handshake and mid-stream from another thread, and after
// each round (announced on stdout, when the test drops every connection) reuses
// its pooled connection. Exits 0 if it survived; SIGPIPE would kill it.
//   sigpipe_probe <server url> <ca file>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "kubegrpc/http_k8s_client.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  std::signal(SIGPIPE, SIG_DFL);
  std::ifstream in(argv[2]);
  std::stringstream ca;
  ca << in.rdbuf();
  kubegrpc::ClusterConfig config;
  config.server = argv[1];
  config.ca_pem = ca.str();
  config.source = "sigpipe_probe";
  for (int round = 0; round < 10; ++round) {
    auto client = kubegrpc::HttpK8sClient::Create(config);
    if (!client.ok()) {
      std::cerr << client.status() << "\n";
      return 1;
    }
    (void)(*client)->GetService("demo", "web");
    kubegrpc::Cancellation cancel;
    absl::Notification streaming;
    std::thread watcher([&] {
      (void)(*client)->WatchEndpoints(
          kubegrpc::EndpointSource::kEndpointSlices, "demo", "web", {"", absl::Minutes(1)},
          [&](const kubegrpc::WatchEvent&) {
            if (!streaming.HasBeenNotified()) streaming.Notify();
          },
          &cancel);
    });
    if (round % 2 == 1) streaming.WaitForNotificationWithTimeout(absl::Seconds(3));
    absl::SleepFor(absl::Milliseconds(10 * (round % 3)));
    cancel.Cancel();
    watcher.join();
    std::cout << "round " << round << std::endl;  // the test drops every connection now
    absl::SleepFor(absl::Milliseconds(200));
    for (int i = 0; i < 3; ++i) (void)(*client)->GetService("demo", "web");
  }
  std::cout << "survived" << std::endl;
  return 0;
}
