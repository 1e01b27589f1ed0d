// How long after a pod turns ready in the API does discovery publish it?
// fakek8s over HTTPS on loopback, the real HttpK8sClient and ServiceDiscovery
// (list + watch). Each trial adds a not-ready pod, waits until discovery has
// seen it, flips it to ready in the store, and measures the time until the
// published EndpointSet lists it as usable.
//
//   bazel run -c opt //tools/bench:discovery_latency -- --trials=100

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/http_k8s_client.h"

ABSL_FLAG(int, trials, 100, "number of pods to turn ready, one at a time");

namespace {

using json = nlohmann::json;

json Pod(int i) {
  return {
      {"metadata",
       {{"name", absl::StrCat("bench-", i)}, {"namespace", "demo"}, {"labels", {{"app", "web"}}}}},
      {"spec", {{"containers", json::array({{{"name", "web"}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", absl::StrCat("127.0.", 100 + i / 250, ".", i % 250 + 1)},
        {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})}}}};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int trials = absl::GetFlag(FLAGS_trials);
  auto k8s = fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
  if (!k8s.ok() || !fakek8s::SeedDemo((*k8s)->store(), {.ns = "demo", .replicas = 3}).ok()) {
    std::cerr << "cannot start fakek8s\n";
    return 1;
  }
  kubegrpc::ClusterConfig config;
  config.server = (*k8s)->server().url();
  config.ca_pem = (*k8s)->server().ca_pem();
  auto client = kubegrpc::HttpK8sClient::Create(config);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }

  absl::Mutex mu;
  std::shared_ptr<const kubegrpc::EndpointSet> latest;
  absl::Time published_at;
  kubegrpc::ServiceDiscovery discovery(
      client->get(), {"web", "demo", 80, ""}, {},
      [&](std::shared_ptr<const kubegrpc::EndpointSet> set, const kubegrpc::EndpointDelta&) {
        absl::Time now = absl::Now();
        absl::MutexLock lock(&mu);
        latest = set;
        published_at = now;
      });
  discovery.Start();
  auto wait_for = [&](const std::string& ip, bool usable) {
    absl::MutexLock lock(&mu);
    auto ok = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      if (latest == nullptr) return false;
      for (const auto& e : usable ? latest->usable() : latest->all()) {
        if (e.address == ip) return true;
      }
      return false;
    };
    bool seen = mu.AwaitWithTimeout(absl::Condition(&ok), absl::Seconds(30));
    return seen ? published_at : absl::InfinitePast();
  };

  // Trial 0 warms up (it may race the first watch's TLS handshake) and is not counted.
  std::vector<double> ms;
  for (int i = 0; i <= trials; ++i) {
    json pod = Pod(i);
    const std::string ip = pod["status"]["podIP"];
    if (!(*k8s)->store().Create(fakek8s::Resource::kPods, pod).ok() ||
        wait_for(ip, false) == absl::InfinitePast()) {
      std::cerr << "trial " << i << ": the not-ready pod never showed up\n";
      return 1;
    }
    const absl::Time ready_at = absl::Now();
    (void)(*k8s)->store().Mutate(fakek8s::Resource::kPods, "demo", pod["metadata"]["name"],
                                 [](json& p) {
                                   p["status"]["conditions"][0]["status"] = "True";
                                   return absl::OkStatus();
                                 });
    absl::Time seen = wait_for(ip, true);
    if (seen == absl::InfinitePast()) {
      std::cerr << "trial " << i << ": the ready pod was never published\n";
      return 1;
    }
    if (i > 0) ms.push_back(absl::ToDoubleMilliseconds(seen - ready_at));
  }
  discovery.Stop();
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  std::cout << absl::StrFormat(
      "discovery latency, pod ready in the API -> published as usable (%d trials, HTTPS "
      "watch on loopback, after a warm-up trial): median %.3f ms, p90 %.3f ms, p99 %.3f ms, max "
      "%.3f ms\n",
      trials, pct(0.5), pct(0.9), pct(0.99), ms.back());
  return 0;
}
