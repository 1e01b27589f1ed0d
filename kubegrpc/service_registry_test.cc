// ServiceRegistry over the harness's store-backed client, in real time: one
// discovery per Service port however many subscribe, started on the first and
// stopped on the last, the current state for late subscribers, and no callback
// after a subscription is gone.

#include "kubegrpc/service_registry.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_k8s_client.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::FakeK8sClient;
using ::testing::HasSubstr;
using json = nlohmann::json;

class Recorder : public ServiceRegistry::Subscriber {
 public:
  void OnEndpoints(const std::shared_ptr<const EndpointSet>& set,
                   const EndpointDelta& delta) override {
    absl::MutexLock lock(&mu_);
    sets_.push_back(set);
    added_ += delta.added.size();
  }
  void OnDiscoveryStatus(const DiscoveryStatus& status) override {
    absl::MutexLock lock(&mu_);
    statuses_.push_back(status);
  }
  // Waits (generously) until the last set has `n` usable endpoints.
  bool WaitForUsable(size_t n) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !sets_.empty() && sets_.back()->usable().size() == n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(60));
  }
  bool WaitForError() {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !statuses_.empty() && !statuses_.back().last_error.ok();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(60));
  }
  size_t sets() {
    absl::MutexLock lock(&mu_);
    return sets_.size();
  }
  size_t added() {
    absl::MutexLock lock(&mu_);
    return added_;
  }
  DiscoveryStatus last_status() {
    absl::MutexLock lock(&mu_);
    return statuses_.empty() ? DiscoveryStatus() : statuses_.back();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<const EndpointSet>> sets_ ABSL_GUARDED_BY(mu_);
  std::vector<DiscoveryStatus> statuses_ ABSL_GUARDED_BY(mu_);
  size_t added_ ABSL_GUARDED_BY(mu_) = 0;
};

json Slice(const std::vector<std::string>& ips) {
  json endpoints = json::array();
  for (const std::string& ip : ips) endpoints.push_back({{"addresses", {ip}}});
  return {{"metadata",
           {{"name", "web-abc"},
            {"namespace", "demo"},
            {"labels", {{"kubernetes.io/service-name", "web"}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints},
          {"ports", json::array({{{"name", "grpc"}, {"port", 8080}}})}};
}

class ServiceRegistryTest : public ::testing::Test {
 protected:
  ServiceRegistryTest() {
    EXPECT_TRUE(
        store_.Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
    EXPECT_TRUE(
        store_
            .Create(fakek8s::Resource::kServices,
                    {{"metadata", {{"name", "web"}, {"namespace", "demo"}}},
                     {"spec", {{"ports", json::array({{{"name", "grpc"}, {"port", 80}}})}}}})
            .ok());
    EXPECT_TRUE(
        store_.Create(fakek8s::Resource::kEndpointSlices, Slice({"10.0.0.1", "10.0.0.2"})).ok());
  }
  const ServiceTarget web_{"web", "demo", 80, ""};
  fakek8s::ObjectStore store_;
  FakeK8sClient client_{{.store = &store_}};
  ServiceRegistry registry_{&client_, {}};
};

TEST_F(ServiceRegistryTest, SubscribersOfOneServiceShareOneDiscovery) {
  Recorder a, b;
  auto sub_a = registry_.Subscribe(web_, &a);
  auto sub_b = registry_.Subscribe(web_, &b);
  ASSERT_TRUE(a.WaitForUsable(2));
  ASSERT_TRUE(b.WaitForUsable(2));
  EXPECT_EQ(client_.lists_of("demo/web"), 1);
  EXPECT_EQ(registry_.Services(), std::vector<std::string>{"demo/web:80"});
  // A change reaches both.
  ASSERT_TRUE(
      store_.Update(fakek8s::Resource::kEndpointSlices, Slice({"10.0.0.1", "10.0.0.2", "10.0.0.3"}))
          .ok());
  EXPECT_TRUE(a.WaitForUsable(3));
  EXPECT_TRUE(b.WaitForUsable(3));
  // Each saw every endpoint added once: the late one got the current state,
  // not a second copy of a set it already had.
  EXPECT_EQ(a.added(), 3u);
  EXPECT_EQ(b.added(), 3u);
}

TEST_F(ServiceRegistryTest, ALateSubscriberGetsTheCurrentStateAtOnce) {
  Recorder a;
  auto sub_a = registry_.Subscribe(web_, &a);
  ASSERT_TRUE(a.WaitForUsable(2));
  Recorder late;
  auto sub_late = registry_.Subscribe(web_, &late);
  ASSERT_EQ(late.sets(), 1u);  // before Subscribe returned
  EXPECT_EQ(late.added(), 2u);
  EXPECT_TRUE(late.last_status().synced);
  EXPECT_EQ(sub_late->current()->usable().size(), 2u);
}

TEST_F(ServiceRegistryTest, TheLastReleaseStopsDiscoveryAndNothingArrivesAfterIt) {
  Recorder a;
  {
    auto sub = registry_.Subscribe(web_, &a);
    ASSERT_TRUE(a.WaitForUsable(2));
  }
  EXPECT_TRUE(registry_.Services().empty());
  const size_t seen = a.sets();
  ASSERT_TRUE(store_.Update(fakek8s::Resource::kEndpointSlices, Slice({"10.0.0.9"})).ok());
  absl::SleepFor(absl::Milliseconds(100));  // nothing may arrive; not a timing assertion
  EXPECT_EQ(a.sets(), seen);
  // Subscribing again starts a new discovery (a new list).
  Recorder b;
  auto sub = registry_.Subscribe(web_, &b);
  ASSERT_TRUE(b.WaitForUsable(1));
  EXPECT_EQ(client_.lists_of("demo/web"), 2);
}

TEST_F(ServiceRegistryTest, FailuresReachSubscribersAsStatus) {
  client_.FailNext(1 << 30, absl::UnavailableError("kube-grpc: test: connection refused"));
  Recorder a;
  auto sub = registry_.Subscribe(web_, &a);
  ASSERT_TRUE(a.WaitForError());
  EXPECT_FALSE(a.last_status().synced);
  EXPECT_THAT(a.last_status().last_error.message(), HasSubstr("connection refused"));
  EXPECT_EQ(a.sets(), 0u);
}

}  // namespace
}  // namespace kubegrpc
