// kubegrpc: what kube-grpc's Balancer sees for a Service, from the command line.
//
//   bazel run //tools/cli:kubegrpc -- watch greeter.prod:50051        # live
//   bazel run //tools/cli:kubegrpc -- watch greeter.prod:50051 --once --json
//   bazel run //tools/cli:kubegrpc -- check greeter.prod:50051 --calls=20
//
// `watch` shows the Service's endpoints as the API reports them (ready,
// serving, terminating, zone), each pod's channel, health and whether it is in
// rotation, discovery's state and last error; --once prints it once (after
// waiting up to --wait for every endpoint's channel to connect), --json as JSON. `check` sends
// --calls grpc.health.v1 Check calls through the pool and prints how they split
// over the pods. The API server and credentials come from --kubeconfig (and
// --context), else from the environment as Balancer::Create() finds them.
//
// Exit codes: 0 fine; 1 the Service has a problem (discovery failing, no
// endpoint to call, failed checks); 2 bad usage or configuration.

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kubegrpc/balancer.h"
#include "kubegrpc/config.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/flags/usage.h"

ABSL_FLAG(std::string, kubeconfig, "",
          "kubeconfig file(s), ':'-separated (default: the environment's)");
ABSL_FLAG(std::string, context, "", "the kubeconfig context (default: its current-context)");
ABSL_FLAG(bool, once, false, "watch: print once and exit");
ABSL_FLAG(bool, json, false, "print JSON instead of a table");
ABSL_FLAG(absl::Duration, wait, absl::Seconds(10),
          "how long to wait for the pool to connect to every endpoint before printing "
          "(--once) or checking");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(1), "watch: how often to print");
ABSL_FLAG(int, calls, 10, "check: how many Check calls");
ABSL_FLAG(std::string, service, "", "check: the grpc.health.v1 service name to ask about");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "check: each call's deadline");

namespace {

using json = nlohmann::json;

constexpr char kUsage[] =
    "kubegrpc: what kube-grpc's Balancer sees for a Kubernetes Service.\n"
    "  kubegrpc watch TARGET [--once] [--json] [--kubeconfig=FILE] [--context=NAME]\n"
    "  kubegrpc check TARGET [--calls=N] [--service=NAME] [--json]\n"
    "TARGET: name.namespace:port (or any form kube-grpc accepts, e.g. greeter.prod:grpc).";

const char* StateName(kubegrpc::ChannelState s) {
  switch (s) {
    case kubegrpc::ChannelState::kIdle:
      return "IDLE";
    case kubegrpc::ChannelState::kConnecting:
      return "CONNECTING";
    case kubegrpc::ChannelState::kReady:
      return "READY";
    case kubegrpc::ChannelState::kTransientFailure:
      return "TRANSIENT_FAILURE";
    case kubegrpc::ChannelState::kShutdown:
      return "SHUTDOWN";
  }
  return "?";
}

std::string Conditions(const kubegrpc::Endpoint& e) {
  if (e.ready) return "ready";
  if (e.serving && e.terminating) return "terminating";
  if (e.terminating) return "terminating, not serving";
  return "not ready";
}

json ToJson(const kubegrpc::ServiceSnapshot& s) {
  const kubegrpc::DiscoveryStatus& d = s.discovery;
  json out = {{"service", s.service},
              {"discovery",
               {{"synced", d.synced},
                {"using_endpoints", d.using_endpoints},
                {"resource_version", d.resource_version},
                {"lists", d.lists},
                {"watches", d.watches},
                {"events", d.events},
                {"errors", d.errors},
                {"last_error", d.last_error.ok() ? "" : std::string(d.last_error.message())}}},
              {"pool_status", s.pool_status.ok() ? "" : std::string(s.pool_status.message())}};
  json endpoints = json::array();
  std::map<std::string, const kubegrpc::EndpointSnapshot*> pool;
  for (const auto& e : s.endpoints) pool[e.host_port] = &e;
  if (s.endpoint_set != nullptr) {
    for (const kubegrpc::Endpoint& e : s.endpoint_set->all()) {
      json row = {
          {"address", e.HostPort()},
          {"pod", e.pod_name},
          {"node", e.node_name},
          {"zone", e.zone},
          {"api", {{"ready", e.ready}, {"serving", e.serving}, {"terminating", e.terminating}}}};
      if (auto it = pool.find(e.HostPort()); it != pool.end()) {
        const kubegrpc::EndpointSnapshot& p = *it->second;
        row["channel"] = StateName(p.state);
        row["healthy"] = p.healthy;
        row["draining"] = p.draining;
        row["in_rotation"] = p.picked;
        row["picks"] = p.picks;
        row["failures"] = p.failures;
        row["in_flight"] = p.in_flight;
        pool.erase(it);
      }
      endpoints.push_back(std::move(row));
    }
  }
  // Channels of endpoints the API no longer lists (draining).
  for (const auto& [key, p] : pool) {
    endpoints.push_back({{"address", key},
                         {"pod", p->pod_name},
                         {"channel", StateName(p->state)},
                         {"draining", p->draining},
                         {"in_rotation", p->picked}});
  }
  out["endpoints"] = std::move(endpoints);
  return out;
}

std::string ToText(const kubegrpc::ServiceSnapshot& s) {
  std::ostringstream out;
  const kubegrpc::DiscoveryStatus& d = s.discovery;
  out << "Service " << s.service << "   discovery: " << (d.synced ? "synced" : "not synced yet")
      << absl::StrFormat(" (%s, resourceVersion %s; %d lists, %d watches, %d events, %d errors)",
                         d.using_endpoints ? "core/v1 Endpoints" : "EndpointSlices",
                         d.resource_version.empty() ? "-" : d.resource_version, d.lists, d.watches,
                         d.events, d.errors)
      << "\n";
  if (!d.last_error.ok()) out << "last error: " << d.last_error.message() << "\n";
  if (!s.pool_status.ok()) out << "pool: " << s.pool_status.message() << "\n";
  std::map<std::string, const kubegrpc::EndpointSnapshot*> pool;
  for (const auto& e : s.endpoints) pool[e.host_port] = &e;
  out << absl::StrFormat("%-20s %-22s %-12s %-18s %-8s %-9s %8s %8s %6s\n", "POD", "ADDRESS", "API",
                         "CHANNEL", "HEALTH", "ROTATION", "PICKS", "FAILED", "NOW");
  auto row = [&](const std::string& pod, const std::string& address, const std::string& api,
                 const kubegrpc::EndpointSnapshot* p) {
    out << absl::StrFormat(
        "%-20s %-22s %-12s %-18s %-8s %-9s %8s %8s %6s\n", pod.empty() ? "-" : pod, address, api,
        p ? StateName(p->state) : "-", p ? (p->healthy ? "ok" : "FAILING") : "-",
        p ? (p->picked     ? "yes"
             : p->draining ? "draining"
                           : "no")
          : "-",
        p ? std::to_string(p->picks) : "-", p ? std::to_string(p->failures) : "-",
        p ? std::to_string(p->in_flight) : "-");
  };
  size_t listed = 0;
  if (s.endpoint_set != nullptr) {
    for (const kubegrpc::Endpoint& e : s.endpoint_set->all()) {
      auto it = pool.find(e.HostPort());
      row(e.pod_name, e.HostPort(), Conditions(e), it == pool.end() ? nullptr : it->second);
      if (it != pool.end()) pool.erase(it);
      ++listed;
    }
  }
  for (const auto& [key, p] : pool) {
    row(p->pod_name, key, "gone", p);
    ++listed;
  }
  if (listed == 0) out << "(no endpoints)\n";
  return out.str();
}

// 0 when the Service has something to call, 1 when discovery fails or nothing is usable.
int Verdict(const kubegrpc::ServiceSnapshot& s) {
  if (!s.discovery.synced) return 1;
  for (const auto& e : s.endpoints) {
    if (e.picked && e.state == kubegrpc::ChannelState::kReady) return 0;
  }
  return 1;
}

// Waits until the Service has a READY endpoint and every endpoint the pool
// holds (but is not draining) has connected, or until `deadline`: a check
// then reaches every pod, and a one-shot view shows the settled pool rather
// than one caught while channels are still connecting.
absl::Status WaitForSettled(kubegrpc::Balancer& balancer, const std::string& target,
                            absl::Time deadline) {
  if (absl::Status ready = balancer.WaitForReady(target, deadline); !ready.ok()) return ready;
  while (absl::Now() < deadline) {
    bool settled = true;
    for (const kubegrpc::ServiceSnapshot& s : balancer.Snapshot()) {
      for (const kubegrpc::EndpointSnapshot& e : s.endpoints) {
        if (!e.draining && (!e.picked || e.state != kubegrpc::ChannelState::kReady)) {
          settled = false;
        }
      }
    }
    if (settled) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::OkStatus();
}

int Watch(kubegrpc::Balancer& balancer, const std::string& target) {
  const bool once = absl::GetFlag(FLAGS_once);
  const bool as_json = absl::GetFlag(FLAGS_json);
  (void)WaitForSettled(balancer, target, absl::Now() + absl::GetFlag(FLAGS_wait));
  const bool tty = isatty(STDOUT_FILENO) && !as_json && !once;
  while (true) {
    std::vector<kubegrpc::ServiceSnapshot> snapshot = balancer.Snapshot();
    if (snapshot.empty()) {
      std::cerr << "kubegrpc: the Balancer has no Service\n";
      return 1;
    }
    const kubegrpc::ServiceSnapshot& s = snapshot.front();
    if (as_json) {
      std::cout << ToJson(s).dump(once ? 2 : -1) << std::endl;
    } else {
      if (tty) std::cout << "\x1b[H\x1b[2J";
      std::cout << ToText(s) << std::flush;
      if (!tty && !once) std::cout << "\n";
    }
    if (once) return Verdict(s);
    absl::SleepFor(absl::GetFlag(FLAGS_interval));
  }
}

int Check(kubegrpc::Balancer& balancer, const std::string& target) {
  auto health = balancer.Connect<grpc::health::v1::Health>(target);
  if (!health.ok()) {
    std::cerr << "kubegrpc: " << health.status().message() << "\n";
    return 2;
  }
  if (absl::Status ready =
          WaitForSettled(balancer, target, absl::Now() + absl::GetFlag(FLAGS_wait));
      !ready.ok()) {
    std::cerr << "kubegrpc: " << ready.message() << "\n";
    return 1;
  }
  std::map<std::string, std::map<std::string, int>> split;  // pod -> outcome -> calls
  int failed = 0;
  const int calls = std::max(1, absl::GetFlag(FLAGS_calls));
  for (int i = 0; i < calls; ++i) {
    absl::StatusOr<std::shared_ptr<kubegrpc::PoolEndpoint>> e = health->channels().NextEndpoint();
    if (!e.ok()) {
      ++split["(none)"][std::string(e.status().message())];
      ++failed;
      continue;
    }
    auto stub = kubegrpc::StubHandle<grpc::health::v1::Health>::StubOf(*e);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(absl::GetFlag(FLAGS_service));
    grpc::health::v1::HealthCheckResponse response;
    kubegrpc::ScopedCall counted(**e);
    grpc::Status status = stub->Check(&context, request, &response);
    counted.set_ok(status.ok());
    const std::string pod = (*e)->pod_name().empty() ? (*e)->host_port() : (*e)->pod_name();
    std::string outcome;
    if (status.ok()) {
      outcome = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
      if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) ++failed;
    } else {
      outcome = absl::StrCat("error ", status.error_code(), ": ", status.error_message());
      ++failed;
    }
    ++split[pod][outcome];
  }
  if (absl::GetFlag(FLAGS_json)) {
    json out = {{"target", target}, {"calls", calls}, {"failed", failed}, {"pods", split}};
    std::cout << out.dump(2) << std::endl;
  } else {
    std::cout << absl::StrFormat("%d Check calls to %s: %d failed\n", calls, target, failed);
    for (const auto& [pod, outcomes] : split) {
      for (const auto& [outcome, n] : outcomes) {
        std::cout << absl::StrFormat("  %-24s %4d  %s\n", pod, n, outcome);
      }
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = kubegrpc::tools::ParseFlags(argc, argv, kUsage);
  if (args.size() != 3 || (std::string(args[1]) != "watch" && std::string(args[1]) != "check")) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  const std::string command = args[1];
  const std::string target = args[2];
  absl::StatusOr<kubegrpc::ClusterConfig> config;
  if (!absl::GetFlag(FLAGS_kubeconfig).empty() || !absl::GetFlag(FLAGS_context).empty()) {
    kubegrpc::KubeconfigOptions options;
    options.paths = kubegrpc::tools::FromWorkingDirectory(absl::GetFlag(FLAGS_kubeconfig));
    options.context = absl::GetFlag(FLAGS_context);
    config = kubegrpc::KubeconfigConfig(options);
  } else {
    config = kubegrpc::DefaultConfig();
  }
  if (!config.ok()) {
    std::cerr << "kubegrpc: " << config.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<kubegrpc::Balancer>> balancer =
      kubegrpc::Balancer::Create(*config);
  if (!balancer.ok()) {
    std::cerr << "kubegrpc: " << balancer.status().message() << "\n";
    return 2;
  }
  if (absl::StatusOr<kubegrpc::ChannelHandle> handle = (*balancer)->Connect(target); !handle.ok()) {
    std::cerr << "kubegrpc: " << handle.status().message() << "\n";
    return 2;
  }
  return command == "watch" ? Watch(**balancer, target) : Check(**balancer, target);
}
