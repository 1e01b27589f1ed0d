// ServeMetrics end to end: real pods behind fakek8s, the real Balancer, calls
// that fail on one pod until it is ejected; then /metrics is scraped over HTTP
// and parsed as Prometheus text exposition, and /status is rendered by
// headless Chromium.

#include "kubegrpc/metrics.h"

#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "testing/fake_cluster.h"
#include "testing/proto/echo.grpc.pb.h"
#include "testing/subprocess.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::Echo;
using ::kubegrpc::testing::EchoRequest;
using ::kubegrpc::testing::EchoResponse;
using ::kubegrpc::testing::FakeCluster;
using ::testing::HasSubstr;

// Prometheus text exposition: "name{labels} value" lines, by the whole
// "name{labels}" (labels as written); also checks every sample has a # TYPE.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> out;
  std::set<std::string> typed;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      EXPECT_EQ(f.size(), 4u) << line;
      if (f.size() == 4) typed.insert(f[2]);
      continue;
    }
    if (line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    if (space == absl::string_view::npos) continue;
    double v = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &v)) << line;
    const std::string series(line.substr(0, space));
    EXPECT_EQ(typed.count(series.substr(0, series.find('{'))), 1u) << line;
    out[series] = v;
  }
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateDeployment({.name = "web", .replicas = 3}).ok());
    auto balancer = Balancer::Create(cluster_->client_config());
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
    auto handle = balancer_->Connect<Echo>("web.demo:80");
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = *std::move(handle);
    ASSERT_TRUE(balancer_->WaitForReady("web.demo:80", absl::Now() + absl::Seconds(60)).ok());
    // WaitForReady returns at the first READY pod; the counts below assume all
    // three share the calls, so wait for every channel (the pool connects eagerly).
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (ReadyChannels() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    ASSERT_EQ(ReadyChannels(), 3);
    auto server = ServeMetrics(*balancer_, "127.0.0.1:0");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  int ReadyChannels() {
    int ready = 0;
    for (const ServiceSnapshot& s : balancer_->Snapshot()) {
      for (const EndpointSnapshot& e : s.endpoints) ready += e.state == ChannelState::kReady;
    }
    return ready;
  }
  // `n` calls through kubegrpc::Call (not retried).
  void Calls(int n) {
    for (int i = 0; i < n; ++i) {
      EchoRequest request;
      EchoResponse response;
      Call(handle_, &Echo::Stub::Echo, request, &response);
    }
  }
  std::string Get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(60, 0);
    auto res = client.Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << path;
    return res->body;
  }

  std::unique_ptr<FakeCluster> cluster_;
  std::unique_ptr<Balancer> balancer_;
  StubHandle<Echo> handle_;
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsTest, MetricsAreScrapedAndParsed) {
  const std::string bad = cluster_->Pods("web")[0];
  cluster_->pod(bad)->FailNextCalls(5, grpc::StatusCode::UNAVAILABLE);
  Calls(30);  // the bad pod fails 5 in a row and is ejected
  std::map<std::string, double> m = Parse(Get("/metrics"));
  const std::string svc = "service=\"demo/web:80\"";
  std::string bad_address;
  for (const ServiceSnapshot& s : balancer_->Snapshot()) {
    for (const EndpointSnapshot& e : s.endpoints) {
      if (e.pod_name == bad) bad_address = e.host_port;
    }
  }
  const std::string bad_labels =
      absl::StrCat(svc, ",pod=\"", bad, "\",address=\"", bad_address, "\"");
  EXPECT_EQ(m[absl::StrCat("kubegrpc_endpoint_calls_total{", bad_labels, ",code=\"UNAVAILABLE\"}")],
            5);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_endpoint_ejections_total{", bad_labels, "}")], 1);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_endpoint_picks_total{", bad_labels, "}")], 5);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_endpoints{", svc, ",state=\"ejected\"}")], 1);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_endpoints{", svc, ",state=\"ready\"}")], 2);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_endpoints{", svc, ",state=\"draining\"}")], 0);
  double ok = 0;
  for (const auto& [series, v] : m) {
    if (absl::StartsWith(series, "kubegrpc_endpoint_calls_total{") &&
        absl::StrContains(series, "code=\"OK\"")) {
      ok += v;
    }
  }
  EXPECT_EQ(ok, 25);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_discovery_lists_total{", svc, "}")], 1);
  EXPECT_GE(m[absl::StrCat("kubegrpc_discovery_watches_total{", svc, "}")], 1);
  EXPECT_EQ(m[absl::StrCat("kubegrpc_discovery_synced{", svc, "}")], 1);
  EXPECT_GE(m[absl::StrCat("kubegrpc_discovery_last_update_age_seconds{", svc, "}")], 0);
}

TEST_F(MetricsTest, TheStatusPageRendersInHeadlessChromium) {
  const std::string bad = cluster_->Pods("web")[1];
  cluster_->pod(bad)->FailNextCalls(5, grpc::StatusCode::UNAVAILABLE);
  Calls(30);
  const std::string page = Get("/status");
  EXPECT_THAT(page, HasSubstr("demo/web:80"));
  EXPECT_THAT(page, HasSubstr("5 calls in a row failed"));
  const char* chromium = "/usr/bin/chromium";
  ASSERT_EQ(access(chromium, X_OK), 0) << "tools/setup.sh installs chromium";
  const std::string profile = absl::StrCat(getenv("TEST_TMPDIR"), "/chromium-profile");
  // Loopback only: no background networking, updates or sync.
  testing::Subprocess::Result r = testing::Subprocess::Run(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--disable-domain-reliability", "--no-pings", "--user-data-dir=" + profile,
       "--dump-dom", absl::StrCat("http://127.0.0.1:", server_->port(), "/status")},
      {}, absl::Seconds(180));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The DOM as Chromium built it: one section for the Service, a row per pod,
  // the bad one ejected with its reason, the others ready and in rotation.
  EXPECT_THAT(r.output, HasSubstr("<section class=\"service\" data-service=\"demo/web:80\">"));
  for (const std::string& pod : cluster_->Pods("web")) {
    const std::string state = pod == bad ? "ejected" : "ready";
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat("<tr class=\"endpoint\" data-pod=\"", pod,
                                                 "\" data-state=\"", state, "\">")));
  }
  EXPECT_THAT(r.output, HasSubstr("5 calls in a row failed; back in"));
  EXPECT_THAT(r.output, HasSubstr("UNAVAILABLE"));
}

TEST(ZoneMetricsTest, ZoneRoutingIsAGaugeAndALineOnTheStatusPage) {
  auto cluster = FakeCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  testing::DeploymentSpec spec;  // web-<n> in zone-{a,b,c}[n % 3]
  spec.replicas = 3;
  spec.traffic_distribution = "PreferSameZone";
  ASSERT_TRUE((*cluster)->CreateDeployment(spec).ok());
  BalancerOptions options;
  options.pool.zone = "zone-b";
  auto balancer = Balancer::Create((*cluster)->client_config(), std::move(options));
  ASSERT_TRUE(balancer.ok()) << balancer.status();
  auto handle = (*balancer)->Connect<Echo>("web.demo:80");
  ASSERT_TRUE(handle.ok()) << handle.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  auto active = [&] {
    for (const ServiceSnapshot& s : (*balancer)->Snapshot()) return s.zone.active;
    return false;
  };
  while (!active() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(active());
  auto server = ServeMetrics(**balancer, "127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_read_timeout(60, 0);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(Parse(metrics->body)
                ["kubegrpc_zone_routing_active{service=\"demo/web:80\",client_zone=\"zone-b\"}"],
            1);
  auto page = client.Get("/status");
  ASSERT_TRUE(page);
  EXPECT_THAT(page->body, HasSubstr("<p class=\"zone\" data-active=\"yes\">zone routing on "
                                    "(client zone zone-b): "));
  EXPECT_THAT(page->body, HasSubstr("1 of its 1"));
}

TEST(ServeMetricsTest, BadAddressesAreClearErrors) {
  auto cluster = FakeCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto b = Balancer::Create((*cluster)->client_config());
  ASSERT_TRUE(b.ok()) << b.status();
  for (const char* bad : {"", "9464", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "[::1"}) {
    auto s = ServeMetrics(**b, bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("ServeMetrics address")) << bad;
  }
}

}  // namespace
}  // namespace kubegrpc
