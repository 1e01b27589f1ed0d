#include "testing/scenario.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "kubegrpc/xds/xds_channels.h"
#include "yaml-cpp/yaml.h"

namespace kubegrpc::testing {
namespace {

absl::Status Bad(const std::string& why) { return absl::InvalidArgumentError("scenario: " + why); }

absl::StatusOr<absl::Duration> Duration(const YAML::Node& node, const std::string& what) {
  absl::Duration d;
  if (!node || !node.IsScalar() || !absl::ParseDuration(node.Scalar(), &d)) {
    return Bad(absl::StrCat(what, " must be a duration such as 500ms or 2s"));
  }
  return d;
}

// The pods the API reports ready (not terminating) for the deployment.
std::set<std::string> ReadyPods(FakeCluster& cluster, const DeploymentSpec& d) {
  std::set<std::string> out;
  for (const auto& slice :
       cluster.k8s().store().List(fakek8s::Resource::kEndpointSlices, d.ns).items) {
    for (const auto& e : slice["endpoints"]) {
      if (e["conditions"].value("ready", false)) out.insert(e["targetRef"].value("name", ""));
    }
  }
  return out;
}

std::set<std::string> PickedPods(Balancer& balancer) {
  std::set<std::string> out;
  for (const auto& s : balancer.Snapshot()) {
    for (const EndpointSnapshot& e : s.endpoints) {
      if (e.picked && e.state == ChannelState::kReady) out.insert(e.pod_name);
    }
  }
  return out;
}

absl::Status Apply(FakeCluster& cluster, const std::string& text) {
  absl::StatusOr<StepAction> action = ParseStepAction(text);
  if (!action.ok()) return action.status();
  if (action->on_pods()) return cluster.Apply(*action);
  using Verb = StepAction::Verb;
  switch (action->verb) {
    case Verb::kOutage:
      cluster.api().BeginOutage();
      absl::SleepFor(action->duration);
      return cluster.api().EndOutage();
    case Verb::kCompact:
      cluster.api().CompactHistory();
      return absl::OkStatus();
    case Verb::kDropWatches:
      cluster.api().DropWatches();
      return absl::OkStatus();
    default:
      return Bad("unreachable");
  }
}

}  // namespace

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the scenario ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Scenario> scenario = ParseScenario(text.str());
  if (!scenario.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", scenario.status().message()));
  }
  return scenario;
}

absl::StatusOr<Scenario> ParseScenario(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const std::exception& e) {
    return Bad(absl::StrCat("invalid YAML: ", e.what()));
  }
  if (!root.IsMap()) return Bad("a scenario is a YAML mapping");
  Scenario s;
  try {
    if (root["name"]) s.name = root["name"].as<std::string>();
    if (root["mode"]) {
      absl::StatusOr<ScenarioMode> mode = ParseScenarioMode(root["mode"].as<std::string>());
      if (!mode.ok()) return mode.status();
      s.mode = *mode;
    }
    if (root["duration"]) {
      absl::StatusOr<absl::Duration> d = Duration(root["duration"], "duration");
      if (!d.ok()) return d.status();
      s.duration = *d;
    }
    if (YAML::Node d = root["deployment"]) {
      if (d["name"]) s.deployment.name = d["name"].as<std::string>();
      if (d["namespace"]) s.deployment.ns = d["namespace"].as<std::string>();
      if (d["replicas"]) s.deployment.replicas = d["replicas"].as<int>();
      if (d["port"]) s.deployment.service_port = d["port"].as<int>();
      if (d["readiness_delay"]) {
        absl::StatusOr<absl::Duration> r = Duration(d["readiness_delay"], "readiness_delay");
        if (!r.ok()) return r.status();
        s.deployment.readiness_delay = *r;
      }
      if (d["zones"]) {
        if (!d["zones"].IsSequence()) return Bad("deployment.zones must be a list");
        s.deployment.zones = d["zones"].as<std::vector<std::string>>();
      }
      if (d["traffic_distribution"]) {
        s.deployment.traffic_distribution = d["traffic_distribution"].as<std::string>();
      }
    }
    if (YAML::Node l = root["load"]) {
      if (l["threads"]) s.load.threads = l["threads"].as<int>();
      if (l["rate"]) s.load.rate = l["rate"].as<double>();
      if (l["retry"]) s.load.retry = l["retry"].as<bool>();
    }
    if (YAML::Node b = root["balancer"]) {
      if (b["resync"]) {
        absl::StatusOr<absl::Duration> r = Duration(b["resync"], "balancer.resync");
        if (!r.ok()) return r.status();
        s.balancer.discovery.resync_interval = *r;
      }
      if (b["watch"]) s.balancer.discovery.watch = b["watch"].as<bool>();
      if (b["health"]) {
        const std::string h = b["health"].as<std::string>();
        if (h == "grpc") {
          s.balancer.pool.health.mode = HealthCheckOptions::Mode::kGrpcHealth;
        } else if (h != "none") {
          return Bad("balancer.health is none or grpc");
        }
      }
      if (b["zone"]) s.balancer.pool.zone = b["zone"].as<std::string>();
      if (b["health_interval"]) {
        absl::StatusOr<absl::Duration> r =
            Duration(b["health_interval"], "balancer.health_interval");
        if (!r.ok()) return r.status();
        s.balancer.pool.health.interval = *r;
      }
    }
    if (YAML::Node steps = root["steps"]) {
      if (!steps.IsSequence()) return Bad("steps must be a list");
      for (const YAML::Node& step : steps) {
        absl::StatusOr<absl::Duration> at = Duration(step["at"], "a step's at");
        if (!at.ok()) return at.status();
        if (!step["do"]) return Bad("a step needs do:");
        const std::string action = step["do"].as<std::string>();
        if (absl::Status bad = ParseStepAction(action).status(); !bad.ok()) return bad;
        s.steps.push_back({*at, action});
      }
    }
  } catch (const std::exception& e) {
    return Bad(absl::StrCat("malformed field: ", e.what()));
  }
  if (s.deployment.replicas < 0 || s.load.threads < 1) {
    return Bad("replicas must be >= 0 and load.threads >= 1");
  }
  std::stable_sort(s.steps.begin(), s.steps.end(),
                   [](const ScenarioStep& a, const ScenarioStep& b) { return a.at < b.at; });
  return s;
}

namespace {

// Whoever carries the scenario's load: the pool (a Balancer) or an xDS channel.
class Door {
 public:
  virtual ~Door() = default;
  // True when what sends the calls now matches the API's ready pods;
  // `since`: the first timeline interval that began after the step.
  virtual bool Converged(const std::set<std::string>& ready, const LoadGenerator& load,
                         int since) = 0;
  virtual std::vector<EndpointSnapshot> Pool() = 0;
  virtual DiscoveryStatus Discovery() = 0;
};

class PoolDoor : public Door {
 public:
  absl::Status Open(FakeCluster& cluster, const Scenario& scenario, const std::string& target) {
    absl::StatusOr<std::unique_ptr<Balancer>> balancer =
        Balancer::Create(cluster.client_config(scenario.deployment.ns), scenario.balancer);
    if (!balancer.ok()) return balancer.status();
    balancer_ = *std::move(balancer);
    absl::StatusOr<StubHandle<Echo>> handle = balancer_->Connect<Echo>(target);
    if (!handle.ok()) return handle.status();
    handle_ = *std::move(handle);
    if (scenario.deployment.replicas > 0) {
      (void)balancer_->WaitForReady(target, absl::Now() + absl::Seconds(30));
    }
    return absl::OkStatus();
  }
  std::unique_ptr<LoadGenerator> Load(const LoadOptions& options) {
    return std::make_unique<LoadGenerator>(*handle_, options);
  }
  bool Converged(const std::set<std::string>& ready, const LoadGenerator&, int) override {
    return PickedPods(*balancer_) == ready;
  }
  std::vector<EndpointSnapshot> Pool() override {
    std::vector<EndpointSnapshot> out;
    for (const ServiceSnapshot& s : balancer_->Snapshot()) out = s.endpoints;
    return out;
  }
  DiscoveryStatus Discovery() override {
    DiscoveryStatus out;
    for (const ServiceSnapshot& s : balancer_->Snapshot()) out = s.discovery;
    return out;
  }

 private:
  std::unique_ptr<Balancer> balancer_;
  std::optional<StubHandle<Echo>> handle_;
};

class XdsDoor : public Door, private ServiceRegistry::Subscriber {
 public:
  ~XdsDoor() override {
    // The channel first: XdsChannels::Shutdown waits for gRPC's xDS client to go.
    channel_.reset();
    subscription_.reset();
    xds_.reset();
  }
  absl::Status Open(FakeCluster& cluster, const Scenario& scenario, const std::string& target) {
    xds::XdsChannelsOptions options;
    options.discovery = scenario.balancer.discovery;
    options.node_id = absl::StrCat("scenario/", scenario.name);
    absl::StatusOr<std::unique_ptr<xds::XdsChannels>> xds =
        xds::XdsChannels::Start(cluster.client_config(scenario.deployment.ns), options);
    if (!xds.ok()) return xds.status();
    xds_ = *std::move(xds);
    absl::StatusOr<ServiceTarget> parsed = ParseTarget(target);
    if (!parsed.ok()) return parsed.status();
    subscription_ = xds_->registry()->Subscribe(*parsed, this);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = xds_->Channel(target);
    if (!channel.ok()) return channel.status();
    channel_ = *std::move(channel);
    if (scenario.deployment.replicas > 0) {
      // Resolved (LDS..EDS) and connected to a pod.
      (void)channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    }
    return absl::OkStatus();
  }
  std::unique_ptr<LoadGenerator> Load(const LoadOptions& options) {
    return std::make_unique<LoadGenerator>(channel_, options);
  }
  bool Converged(const std::set<std::string>& ready, const LoadGenerator& load,
                 int since) override {
    // The last complete interval, if it began after the step.
    const int last = load.CurrentInterval() - 1;
    if (last < since) return false;
    std::set<std::string> answered;
    for (const auto& [pod, n] : load.CallsIn(last)) {
      if (n > 0) answered.insert(pod);
    }
    return answered == ready;
  }
  std::vector<EndpointSnapshot> Pool() override { return {}; }  // gRPC's: not visible
  DiscoveryStatus Discovery() override { return subscription_->status(); }

 private:
  void OnEndpoints(const std::shared_ptr<const EndpointSet>&, const EndpointDelta&) override {}

  std::unique_ptr<xds::XdsChannels> xds_;
  std::unique_ptr<ServiceRegistry::Subscription> subscription_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace

const char* ScenarioModeName(ScenarioMode mode) {
  return mode == ScenarioMode::kXds ? "xds" : "pool";
}

absl::StatusOr<ScenarioMode> ParseScenarioMode(const std::string& name) {
  if (name == "pool") return ScenarioMode::kPool;
  if (name == "xds") return ScenarioMode::kXds;
  return absl::InvalidArgumentError(
      absl::StrCat("scenario: mode is pool or xds, not \"", name, "\""));
}

absl::StatusOr<ScenarioReport> RunScenario(const Scenario& scenario) {
  absl::StatusOr<std::unique_ptr<FakeCluster>> cluster = FakeCluster::Start();
  if (!cluster.ok()) return cluster.status();
  DeploymentSpec deployment = scenario.deployment;
  if (scenario.mode == ScenarioMode::kXds && scenario.load.retry &&
      deployment.service_annotations.count("kube-grpc.io/retry") == 0) {
    // What the pool's retry helper does for idempotent calls, as gRPC's policy.
    deployment.service_annotations["kube-grpc.io/retry"] =
        R"({"retryOn": "unavailable,cancelled", "numRetries": 2})";
  }
  if (absl::Status s = (*cluster)->CreateDeployment(deployment); !s.ok()) return s;
  const std::string target = absl::StrCat(scenario.deployment.name, ".", scenario.deployment.ns,
                                          ":", scenario.deployment.service_port);
  std::unique_ptr<Door> door;
  std::unique_ptr<LoadGenerator> load_owner;
  if (scenario.mode == ScenarioMode::kXds) {
    auto xds = std::make_unique<XdsDoor>();
    if (absl::Status s = xds->Open(**cluster, scenario, target); !s.ok()) return s;
    load_owner = xds->Load(scenario.load);
    door = std::move(xds);
  } else {
    auto pool = std::make_unique<PoolDoor>();
    if (absl::Status s = pool->Open(**cluster, scenario, target); !s.ok()) return s;
    load_owner = pool->Load(scenario.load);
    door = std::move(pool);
  }
  LoadGenerator& load = *load_owner;

  ScenarioReport report;
  report.name = scenario.name;
  report.mode = scenario.mode;
  const absl::Time start = absl::Now();
  report.start = start;
  load.Start();
  // The live view's feed.
  absl::Mutex progress_mu;
  bool done = false;
  std::string current_step;
  std::thread progress;
  if (scenario.progress) {
    progress = std::thread([&] {
      while (true) {
        {
          absl::MutexLock lock(&progress_mu);
          auto stop = [&done] { return done; };
          if (progress_mu.AwaitWithTimeout(absl::Condition(&stop), scenario.progress_interval)) {
            return;
          }
        }
        ScenarioProgress p;
        p.elapsed = absl::Now() - start;
        p.duration = scenario.duration;
        p.load = load.Snapshot();
        p.mode = scenario.mode;
        p.pool = door->Pool();
        p.discovery = door->Discovery();
        p.api_pods = (*cluster)->Pods(scenario.deployment.name);
        p.events = (*cluster)->Events();
        {
          absl::MutexLock lock(&progress_mu);
          p.step = current_step;
        }
        scenario.progress(p);
      }
    });
  }
  auto stop_progress = [&] {
    {
      absl::MutexLock lock(&progress_mu);
      done = true;
    }
    if (progress.joinable()) progress.join();
  };
  auto stopped = [&scenario] { return scenario.stop != nullptr && scenario.stop->load(); };
  // Sleeps until `until`, or until the run is stopped; false if stopped.
  auto sleep_until = [&](absl::Time until) {
    while (absl::Now() < until) {
      if (stopped()) return false;
      absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
    }
    return !stopped();
  };
  for (const ScenarioStep& step : scenario.steps) {
    if (!sleep_until(start + step.at)) break;
    StepResult result;
    result.step = step;
    result.interval = load.CurrentInterval();
    {
      absl::MutexLock lock(&progress_mu);
      current_step = step.action;
    }
    const absl::Time began = absl::Now();
    result.status = Apply(**cluster, step.action);
    const absl::Time done = absl::Now();
    result.took = done - began;
    // Convergence: the calls go to exactly the pods the API says are ready.
    if (result.status.ok()) {
      const absl::Time limit = done + absl::Seconds(30);
      const int since = load.CurrentInterval() + 1;
      while (absl::Now() < limit && !stopped()) {
        if (door->Converged(ReadyPods(**cluster, scenario.deployment), load, since)) {
          result.converged_after = absl::Now() - done;
          break;
        }
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    report.steps.push_back(result);
    if (!result.status.ok()) break;
  }
  sleep_until(start + scenario.duration);
  report.stopped_early = stopped();
  report.load = load.Stop();
  stop_progress();
  report.events = (*cluster)->Events();
  report.discovery = door->Discovery();
  load_owner.reset();
  door.reset();
  for (const StepResult& r : report.steps) {
    if (!r.status.ok()) return r.status;
  }
  return report;
}

namespace {

// "web-2" before "web-10": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (absl::ascii_isdigit(a[i]) && absl::ascii_isdigit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && absl::ascii_isdigit(a[ie])) ++ie;
      while (je < b.size() && absl::ascii_isdigit(b[je])) ++je;
      const std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// Milliseconds, the unit of every time in the summary.
std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
}

}  // namespace

std::vector<std::string> NaturallySorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end(), NaturalLess);
  return names;
}

std::string ScenarioReport::ToText() const {
  std::string out = absl::StrFormat("scenario %s (%s): %d calls ok, %d failed", name,
                                    ScenarioModeName(mode), load.ok, load.failed);
  for (const auto& [code, n] : load.failures)
    absl::StrAppend(&out, absl::StrFormat(" (%s: %d)", code, n));
  absl::StrAppend(&out, absl::StrFormat("; latency p50 %s, p99 %s\n", Ms(load.p50), Ms(load.p99)));
  std::vector<std::string> pods;
  for (const auto& [pod, n] : load.by_pod) pods.push_back(pod);
  for (const std::string& pod : NaturallySorted(pods)) {
    absl::StrAppend(&out, absl::StrFormat("  %-10s %d calls\n", pod, load.by_pod.at(pod)));
  }
  for (const StepResult& r : steps) {
    absl::StrAppend(
        &out, absl::StrFormat("  at %6.1f s  %-24s applied in %s; the %s matched the API %s\n",
                              absl::ToDoubleSeconds(r.step.at), r.step.action, Ms(r.took),
                              mode == ScenarioMode::kXds ? "calls" : "pool",
                              r.converged_after == absl::InfiniteDuration()
                                  ? "never (before the run ended)"
                                  : absl::StrCat(Ms(r.converged_after), " later")));
  }
  return out;
}

}  // namespace kubegrpc::testing
