// ServiceDiscovery on virtual time with a scripted, in-process K8sClient.

#include "kubegrpc/discovery.h"

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"
#include "testing/fake_k8s_client.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::FakeClock;
using ::kubegrpc::testing::FakeK8sClient;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

EndpointInfo Ep(const std::string& ip, std::optional<bool> ready = std::nullopt,
                std::optional<bool> serving = std::nullopt,
                std::optional<bool> terminating = std::nullopt, int port = 8080,
                const std::string& port_name = "grpc") {
  EndpointInfo e;
  e.address = ip;
  e.ready = ready;
  e.serving = serving;
  e.terminating = terminating;
  e.pod_name = "pod-" + ip;
  e.ports = {{port_name, port, "TCP"}};
  return e;
}

EndpointObject Slice(const std::string& name, std::vector<EndpointInfo> endpoints,
                     const std::string& rv = "1") {
  return {name, rv, std::move(endpoints)};
}

WatchEvent Event(WatchEvent::Type type, EndpointObject object) {
  WatchEvent e;
  e.type = type;
  e.resource_version = object.resource_version;
  e.object = std::move(object);
  return e;
}

WatchEvent Expired() {
  WatchEvent e;
  e.type = WatchEvent::Type::kError;
  e.error = absl::OutOfRangeError("too old resource version");
  return e;
}

class DiscoveryTest : public ::testing::Test {
 protected:
  DiscoveryTest() : client_({.clock = &clock_}) { client_.ScriptService(kService); }
  const ServiceInfo kService{"demo", "web", {{"grpc", 80, "TCP"}, {"metrics", 9090, "TCP"}}};

  void Make(DiscoveryOptions options = {}, ServiceTarget target = {"web", "demo", 80, ""}) {
    options.clock = &clock_;
    options.seed = 42;
    discovery_ = std::make_unique<ServiceDiscovery>(
        &client_, target, options,
        [this](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
          published_.push_back(set);
          deltas_.push_back(delta);
        });
  }

  std::vector<std::string> Usable() {
    std::vector<std::string> out;
    auto set = discovery_->current();
    if (set == nullptr) return out;
    for (const Endpoint& e : set->usable()) out.push_back(e.HostPort());
    return out;
  }

  FakeClock clock_;
  FakeK8sClient client_;
  std::unique_ptr<ServiceDiscovery> discovery_;
  std::vector<std::shared_ptr<const EndpointSet>> published_;
  std::vector<EndpointDelta> deltas_;
};

TEST_F(DiscoveryTest, MergesAllSlicesDedupesAndFollowsWatchEvents) {
  // 250 endpoints in three slices, one of them also (stale, not ready) in a second slice.
  std::vector<EndpointObject> slices(3);
  for (int i = 0; i < 250; ++i) {
    slices[i / 100].endpoints.push_back(Ep(absl::StrCat("10.1.", i / 100, ".", i % 100)));
  }
  slices[2].endpoints.push_back(Ep("10.1.0.7", false));
  for (int i = 0; i < 3; ++i) slices[i].name = absl::StrCat("web-", i);
  client_.ScriptList(EndpointSource::kEndpointSlices, EndpointObjectList{slices, "100"});
  client_.ScriptWatch(
      {{Event(WatchEvent::Type::kDeleted, Slice("web-2", {}, "101")),
        Event(WatchEvent::Type::kModified, Slice("web-0", {Ep("10.9.9.9")}, "102"))},
       absl::OkStatus()});
  Make();

  discovery_->RunOnce();  // list
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0]->all().size(), 250u);
  EXPECT_EQ(published_[0]->usable().size(), 250u);  // the ready copy of 10.1.0.7 won
  EXPECT_EQ(deltas_[0].added.size(), 250u);
  EXPECT_EQ(discovery_->status().resource_version, "100");

  discovery_->RunOnce();  // one watch stream
  ASSERT_EQ(client_.watch_requests().size(), 1u);
  EXPECT_EQ(client_.watch_requests()[0].resource_version, "100");
  EXPECT_TRUE(client_.watch_requests()[0].bookmarks);
  ASSERT_EQ(published_.size(), 3u);
  EXPECT_EQ(published_[1]->usable().size(), 200u);  // web-2 deleted
  EXPECT_EQ(deltas_[1].removed.size(), 50u);
  EXPECT_EQ(published_[2]->usable().size(), 101u);  // web-0 replaced by one endpoint
  EXPECT_EQ(discovery_->status().resource_version, "102");
}

TEST_F(DiscoveryTest, ConditionDefaultsAndTerminatingFallback) {
  client_.ScriptList(
      EndpointSource::kEndpointSlices,
      EndpointObjectList{{Slice("s", {Ep("10.0.0.1"),                     // all conditions missing
                                      Ep("10.0.0.2", false, true, true),  // terminating, serving
                                      Ep("10.0.0.3", false, false, false)})},  // not ready
                         "5"});
  client_.ScriptWatch(
      {{Event(WatchEvent::Type::kModified,
              Slice("s", {Ep("10.0.0.2", false, true, true), Ep("10.0.0.3", false, false, true)},
                    "6"))},
       absl::OkStatus()});
  Make();
  discovery_->RunOnce();
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));
  const Endpoint& first = discovery_->current()->all()[0];
  EXPECT_TRUE(first.ready && first.serving && !first.terminating);
  discovery_->RunOnce();
  // Nothing ready: the serving, terminating endpoint keeps taking calls.
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.2:8080"));
}

TEST_F(DiscoveryTest, ServicePortMapsToTheEndpointPortByName) {
  // Service port 80 is named grpc; endpoints carry grpc=8080 and metrics=9090.
  EndpointInfo both = Ep("10.0.0.1");
  both.ports.push_back({"metrics", 9090, "TCP"});
  EndpointInfo no_grpc = Ep("10.0.0.2", std::nullopt, std::nullopt, std::nullopt, 9090, "metrics");
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {both}), Slice("b", {no_grpc})}, "1"});
  Make();
  discovery_->RunOnce();
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));  // targetPort 8080, not 80

  Make({}, {"web", "demo", 0, "metrics"});
  discovery_->RunOnce();
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:9090", "10.0.0.2:9090"));
}

TEST_F(DiscoveryTest, AServicePortThatGoesEmptiesTheSetAMissingServiceKeepsIt) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "1"});
  DiscoveryOptions options;
  options.resync_interval = absl::Minutes(1);
  Make(options);
  discovery_->RunOnce();
  ASSERT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));
  // The Service loses the port: the API says the port is gone, so the set
  // empties, with the error as the reason.
  client_.ScriptService(ServiceInfo{"demo", "web", {{"http", 8000, "TCP"}}});
  clock_.Advance(absl::Minutes(2));
  discovery_->RunOnce();
  DiscoveryStatus status = discovery_->status();
  EXPECT_EQ(status.last_error.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.last_error.message(),
              HasSubstr("Service demo/web has no port 80 (its ports: 8000/http)"));
  EXPECT_THAT(Usable(), ElementsAre());
  // The port returns: the next relist brings the endpoints back.
  client_.ScriptService(kService);
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "2"});
  discovery_->RunOnce();
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));
  // A Service that cannot be read (deleted, or a 404 from a proxy) keeps the
  // last known endpoints.
  client_.ScriptService(
      absl::NotFoundError("kube-grpc: reading Service demo/web: HTTP 404 NotFound"));
  clock_.Advance(absl::Minutes(2));
  discovery_->RunOnce();
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));
  EXPECT_EQ(discovery_->status().errors, 2);
}

TEST_F(DiscoveryTest, ExpiredWatchRelistsAtOnceButAStormBacksOff) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "10"});
  client_.ScriptWatch({{Expired()}, absl::OkStatus(), absl::ZeroDuration()});
  client_.ScriptWatch({{Expired()}, absl::OkStatus(), absl::ZeroDuration()});
  Make();
  discovery_->RunOnce();  // list
  discovery_->RunOnce();  // watch -> 410
  EXPECT_EQ(discovery_->status().expired, 1);
  EXPECT_TRUE(clock_.sleeps().empty());  // no backoff before the relist
  discovery_->RunOnce();                 // relist
  EXPECT_THAT(client_.list_log(), ElementsAre("slices", "slices"));
  discovery_->RunOnce();  // watch -> 410 again: now a backoff
  EXPECT_EQ(discovery_->status().expired, 2);
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_GE(clock_.sleeps()[0], absl::Milliseconds(800));
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));
}

TEST_F(DiscoveryTest, BackoffGrowsWithJitterAndResetsAfterAHealthyWatch) {
  DiscoveryOptions options;
  options.resync_interval = absl::ZeroDuration();  // watch only: no relists in between
  Make(options);
  for (int i = 0; i < 8; ++i) discovery_->RunOnce();  // every list fails
  std::vector<absl::Duration> sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 8u);
  absl::Duration expected = absl::Seconds(1);
  for (absl::Duration d : sleeps) {
    EXPECT_GE(d, expected * 0.8);
    EXPECT_LE(d, expected * 1.2);
    expected = std::min(expected * 1.6, absl::Seconds(30));
  }
  EXPECT_EQ(discovery_->status().errors, 8);
  EXPECT_EQ(discovery_->current(), nullptr);  // never synced: nothing published

  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "1"});
  discovery_->RunOnce();  // list succeeds
  discovery_->RunOnce();  // a healthy (quiet, full-length) watch
  client_.ScriptWatch(
      {{}, absl::UnavailableError("kube-grpc: test: stream broke"), absl::Seconds(5)});
  discovery_->RunOnce();  // a failing watch: backoff starts over at ~1 s
  sleeps = clock_.sleeps();
  EXPECT_LE(sleeps.back(), absl::Milliseconds(1200));
  EXPECT_GE(sleeps.back(), absl::Milliseconds(800));
}

TEST_F(DiscoveryTest, RetryAfterIsHonoured) {
  client_.ScriptList(
      EndpointSource::kEndpointSlices,
      WithRetryAfter(absl::ResourceExhaustedError("kube-grpc: test: 429"), absl::Seconds(7)));
  Make();
  discovery_->RunOnce();
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_GE(clock_.sleeps()[0], absl::Seconds(7));
}

TEST_F(DiscoveryTest, AWatchThatEndsAtOnceWithoutEventsIsAFailure) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "1"});
  client_.ScriptWatch({{}, absl::OkStatus(), absl::Milliseconds(10)});
  Make();
  discovery_->RunOnce();
  discovery_->RunOnce();
  EXPECT_EQ(discovery_->status().errors, 1);
  EXPECT_EQ(clock_.sleeps().size(), 1u);
}

TEST_F(DiscoveryTest, PeriodicResyncRelists) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "1"});
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.2")})}, "9"});
  DiscoveryOptions options;
  options.resync_interval = absl::Seconds(90);
  options.watch_timeout = absl::Seconds(60);
  Make(options);
  discovery_->RunOnce();  // list at t=0
  discovery_->RunOnce();  // watch, at most until the resync is due
  discovery_->RunOnce();
  discovery_->RunOnce();
  EXPECT_THAT(client_.list_log(), ElementsAre("slices", "slices"));
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.2:8080"));
  for (const WatchRequest& r : client_.watch_requests()) EXPECT_LE(r.timeout, absl::Seconds(90));
}

TEST_F(DiscoveryTest, PollingModeRelistsOnlyEveryInterval) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "1"});
  DiscoveryOptions options;
  options.watch = false;
  options.resync_interval = absl::Seconds(60);
  Make(options);
  const absl::Time start = clock_.Now();
  for (int i = 0; i < 6; ++i) discovery_->RunOnce();
  EXPECT_EQ(client_.list_log().size(), 3u);
  EXPECT_TRUE(client_.watch_requests().empty());
  EXPECT_EQ(clock_.Now() - start, absl::Seconds(180));  // list, sleep 60 s, three times
}

TEST_F(DiscoveryTest, FallsBackToEndpointsWithoutTheDiscoveryApi) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     absl::NotFoundError("the server could not find the requested resource"));
  client_.ScriptList(
      EndpointSource::kEndpoints,
      EndpointObjectList{{Slice("web", {Ep("10.0.0.1"), Ep("10.0.0.2", false, false)})}, "3"});
  Make();
  discovery_->RunOnce();
  EXPECT_TRUE(discovery_->status().using_endpoints);
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.1:8080"));
  EXPECT_THAT(client_.list_log(), ElementsAre("slices", "endpoints"));
}

TEST_F(DiscoveryTest, AnOutageKeepsTheLastSetUntilTheApiSaysOtherwise) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1"), Ep("10.0.0.2")})}, "1"});
  DiscoveryOptions options;
  options.resync_interval = absl::Minutes(1);
  Make(options);
  discovery_->RunOnce();
  ASSERT_EQ(Usable().size(), 2u);
  // Ten minutes of an unreachable API server: every list and watch fails.
  client_.ClearLists();
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     absl::UnavailableError("kube-grpc: test: connection refused"));
  for (int i = 0; i < 5; ++i) {
    client_.ScriptWatch(
        {{}, absl::UnavailableError("kube-grpc: test: connection refused"), absl::ZeroDuration()});
  }
  const absl::Time start = clock_.Now();
  while (clock_.Now() - start < absl::Minutes(10)) discovery_->RunOnce();
  EXPECT_EQ(Usable().size(), 2u);
  EXPECT_EQ(published_.size(), 1u);
  DiscoveryStatus status = discovery_->status();
  EXPECT_GT(status.errors, 5);
  EXPECT_EQ(status.last_error.code(), absl::StatusCode::kUnavailable);
  // The API is back and says there are no endpoints: now the set empties.
  client_.ClearLists();
  client_.ScriptList(EndpointSource::kEndpointSlices, EndpointObjectList{{Slice("a", {})}, "50"});
  for (int i = 0; i < 3 && !Usable().empty(); ++i) discovery_->RunOnce();
  EXPECT_TRUE(Usable().empty());
  EXPECT_EQ(deltas_.back().removed.size(), 2u);
}

// A burst of events that arrived together is published once; a lone change at once.
TEST_F(DiscoveryTest, ABurstIsPublishedOnceALoneChangeAtOnce) {
  client_.ScriptList(EndpointSource::kEndpointSlices,
                     EndpointObjectList{{Slice("a", {Ep("10.0.0.1")})}, "1"});
  std::vector<WatchEvent> burst;
  for (int i = 2; i <= 6; ++i) {
    WatchEvent e = Event(WatchEvent::Type::kModified,
                         Slice("a", {Ep(absl::StrCat("10.0.0.", i))}, std::to_string(i)));
    e.last_in_batch = i == 6;
    burst.push_back(e);
  }
  WatchEvent lone = Event(WatchEvent::Type::kModified, Slice("a", {Ep("10.0.0.9")}, "9"));
  client_.ScriptWatch({burst, absl::OkStatus()});
  client_.ScriptWatch({{lone}, absl::OkStatus()});
  Make();
  discovery_->RunOnce();  // list
  discovery_->RunOnce();  // the burst
  ASSERT_EQ(published_.size(), 2u);
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.6:8080"));
  discovery_->RunOnce();  // the lone change
  ASSERT_EQ(published_.size(), 3u);
  EXPECT_THAT(Usable(), ElementsAre("10.0.0.9:8080"));
}

}  // namespace
}  // namespace kubegrpc
