// FakeK8sClient: answers from the store as the HTTP client would decode them,
// the script taking precedence, watches in real and virtual time.

#include "testing/fake_k8s_client.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "fakek8s/endpoint_controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::testing {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

class FakeK8sClientTest : public ::testing::Test {
 protected:
  FakeK8sClientTest() {
    controller_.Attach(store_);
    EXPECT_TRUE(
        store_.Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
    EXPECT_TRUE(
        store_
            .Create(fakek8s::Resource::kServices,
                    {{"metadata", {{"name", "web"}, {"namespace", "demo"}}},
                     {"spec",
                      {{"selector", {{"app", "web"}}},
                       {"ports",
                        json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", 8080}}})}}}})
            .ok());
    AddPod("web-0", "10.0.0.1");
  }
  void AddPod(const std::string& name, const std::string& ip) {
    EXPECT_TRUE(
        store_
            .Create(fakek8s::Resource::kPods,
                    {{"metadata",
                      {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", "web"}}}}},
                     {"status",
                      {{"phase", "Running"},
                       {"podIP", ip},
                       {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}})
            .ok());
  }
  fakek8s::ObjectStore store_;
  fakek8s::EndpointController controller_;
};

TEST_F(FakeK8sClientTest, ListsAndReadsFromTheStore) {
  FakeK8sClient client({.store = &store_});
  absl::StatusOr<ServiceInfo> service = client.GetService("demo", "web");
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ(service->ports[0].name, "grpc");
  absl::StatusOr<EndpointObjectList> slices =
      client.ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web");
  ASSERT_TRUE(slices.ok()) << slices.status();
  ASSERT_EQ(slices->items.size(), 1u);
  EXPECT_EQ(slices->items[0].endpoints[0].address, "10.0.0.1");
  EXPECT_FALSE(slices->resource_version.empty());
  absl::StatusOr<EndpointObjectList> endpoints =
      client.ListEndpoints(EndpointSource::kEndpoints, "demo", "web");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  EXPECT_EQ(endpoints->items.size(), 1u);
  EXPECT_EQ(client.GetService("demo", "nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client.lists_of("demo/web"), 2);
  EXPECT_EQ(client.gets(), 2);
}

TEST_F(FakeK8sClientTest, TheScriptComesFirst) {
  FakeK8sClient client({.store = &store_});
  client.FailNext(1, absl::UnavailableError("down"));
  EXPECT_EQ(client.GetService("demo", "web").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(client.GetService("demo", "web").ok());
  client.ScriptList(EndpointSource::kEndpointSlices, EndpointObjectList{{}, "77"});
  EXPECT_EQ(client.ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web")->resource_version,
            "77");
  client.SetOutage(true);
  EXPECT_THAT(
      client.ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web").status().message(),
      HasSubstr("outage"));
}

TEST_F(FakeK8sClientTest, ARealTimeWatchDeliversChangesUntilCancelled) {
  FakeK8sClient client({.store = &store_});
  const std::string rv =
      client.ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web")->resource_version;
  Cancellation cancel;
  absl::Notification got;
  std::vector<std::string> addresses;
  std::thread watcher([&] {
    absl::Status s = client.WatchEndpoints(
        EndpointSource::kEndpointSlices, "demo", "web", {rv, absl::Minutes(5)},
        [&](const WatchEvent& e) {
          for (const EndpointInfo& ep : e.object.endpoints) addresses.push_back(ep.address);
          if (!got.HasBeenNotified() && addresses.size() >= 2) got.Notify();
        },
        &cancel);
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  });
  AddPod("web-1", "10.0.0.2");
  EXPECT_TRUE(got.WaitForNotificationWithTimeout(absl::Seconds(60)));
  cancel.Cancel();
  watcher.join();
  EXPECT_THAT(addresses, ::testing::Contains("10.0.0.2"));
}

TEST_F(FakeK8sClientTest, OnVirtualTimeAPollAdvancesTheClockAndCountsOneStream) {
  FakeClock clock;
  FakeK8sClient client({.store = &store_, .clock = &clock, .poll = absl::Milliseconds(50)});
  const absl::Time start = clock.Now();
  int events = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(client
                    .WatchEndpoints(
                        EndpointSource::kEndpointSlices, "demo", "web", {"", absl::Minutes(5)},
                        [&](const WatchEvent&) { ++events; }, nullptr)
                    .ok());
  }
  EXPECT_EQ(clock.Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(client.watches(), 1);
  EXPECT_GE(events, 1);  // the initial ADDED of a watch from no version
}

TEST_F(FakeK8sClientTest, ACompactedHistoryIsAnExpiredEvent) {
  FakeK8sClient client({.store = &store_});
  const std::string rv =
      client.ListEndpoints(EndpointSource::kEndpointSlices, "demo", "web")->resource_version;
  AddPod("web-1", "10.0.0.2");
  store_.Compact();
  std::vector<WatchEvent> events;
  ASSERT_TRUE(client
                  .WatchEndpoints(
                      EndpointSource::kEndpointSlices, "demo", "web", {rv, absl::Seconds(1)},
                      [&](const WatchEvent& e) { events.push_back(e); }, nullptr)
                  .ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kError);
  EXPECT_EQ(events[0].error.code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace kubegrpc::testing
