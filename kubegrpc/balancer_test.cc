// The Balancer façade over an in-process K8sClient and fake subchannels.

#include "kubegrpc/balancer.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/object_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "testing/fake_k8s_client.h"
#include "testing/fake_subchannel.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::FakeK8sClient;
using ::kubegrpc::testing::FakeSubchannelFactory;
using ::testing::HasSubstr;

using json = nlohmann::json;

json Slice(const std::string& service, const std::string& name,
           const std::vector<std::string>& ips) {
  json endpoints = json::array();
  for (const std::string& ip : ips) endpoints.push_back({{"addresses", {ip}}});
  return {{"metadata",
           {{"name", name},
            {"namespace", "demo"},
            {"labels", {{"kubernetes.io/service-name", service}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints},
          {"ports", json::array({{{"name", "grpc"}, {"port", 8080}, {"protocol", "TCP"}}})}};
}

json Service(const std::string& ns, const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"ports", json::array({{{"name", "grpc"}, {"port", 80}}})}}}};
}

class BalancerTest : public ::testing::Test {
 protected:
  void Make(ChannelState initial = ChannelState::kReady) {
    // Services demo/web (two pods), demo/empty (none) and other/web (none).
    for (const char* ns : {"demo", "other"}) {
      ASSERT_TRUE(
          store_.Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", ns}}}}).ok());
    }
    for (const auto& [ns, name] : {std::pair{"demo", "web"}, {"demo", "empty"}, {"other", "web"}}) {
      ASSERT_TRUE(store_.Create(fakek8s::Resource::kServices, Service(ns, name)).ok());
    }
    ASSERT_TRUE(store_
                    .Create(fakek8s::Resource::kEndpointSlices,
                            Slice("web", "web-abc", {"10.0.0.1", "10.0.0.2"}))
                    .ok());
    client_ = std::make_shared<FakeK8sClient>(FakeK8sClient::Options{.store = &store_});
    factory_ = std::make_shared<FakeSubchannelFactory>(
        FakeSubchannelFactory::Options{.initial = initial, .with_channel = true});
    BalancerOptions options;
    options.subchannel_factory = factory_;
    auto b = Balancer::Create(client_, "demo", options);
    ASSERT_TRUE(b.ok()) << b.status();
    balancer_ = *std::move(b);
  }

  fakek8s::ObjectStore store_;
  std::shared_ptr<FakeK8sClient> client_;
  std::shared_ptr<FakeSubchannelFactory> factory_;
  std::unique_ptr<Balancer> balancer_;
};

TEST_F(BalancerTest, OneDiscoveryPerServiceHoweverItIsNamedOrHowOftenConnected) {
  Make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      const char* forms[] = {"web:80", "web.demo:80", "web.demo.svc.cluster.local:80",
                             "kubernetes:///web.demo:80"};
      EXPECT_TRUE(balancer_->Connect(forms[t % 4]).ok());
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(balancer_->WaitForReady("web:80", absl::Now() + absl::Seconds(30)).ok());
  EXPECT_EQ(client_->lists_of("demo/web"), 1);
  EXPECT_EQ(balancer_->Snapshot().size(), 1u);
  EXPECT_TRUE(balancer_->Connect("web.other:80").ok());  // another namespace: another Service
  EXPECT_EQ(balancer_->Snapshot().size(), 2u);
}

TEST_F(BalancerTest, BadTargetsAndEmptyServicesAreClearErrors) {
  Make();
  EXPECT_EQ(balancer_->Connect("Web:80").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(balancer_->Connect("web").status().code(), absl::StatusCode::kInvalidArgument);

  auto handle = balancer_->Connect("empty:80");
  ASSERT_TRUE(handle.ok());
  absl::Status s = balancer_->WaitForReady("empty:80", absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("demo/empty:80"));
  EXPECT_THAT(s.message(), HasSubstr("the Service has no endpoints"));
  EXPECT_THAT(handle->Next().status().message(), HasSubstr("the Service has no endpoints"));
}

TEST_F(BalancerTest, ApiDownAtStartUpIsReportedByNext) {
  Make();
  client_->FailNext(1 << 30, absl::UnavailableError("kube-grpc: test: connection refused"));
  auto handle = balancer_->Connect("web:80");
  ASSERT_TRUE(handle.ok());
  absl::Status s;
  for (int i = 0; i < 300; ++i) {
    s = handle->Next().status();
    if (absl::StrContains(s.message(), "connection refused")) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("discovery has not succeeded since start-up"));
  EXPECT_THAT(s.message(), HasSubstr("connection refused"));
  EXPECT_EQ(balancer_->Snapshot()[0].discovery.last_error.code(), absl::StatusCode::kUnavailable);
}

TEST_F(BalancerTest, ChannelsAndStubsRoundRobinAndStubsAreReused) {
  Make();
  ASSERT_TRUE(balancer_->WaitForReady("web:80", absl::Now() + absl::Seconds(30)).ok());
  auto channels = balancer_->Connect("web:80");
  ASSERT_TRUE(channels.ok());
  std::set<grpc::Channel*> seen_channels;
  for (int i = 0; i < 4; ++i) seen_channels.insert(channels->Next()->get());
  EXPECT_EQ(seen_channels.size(), 2u);

  auto stubs = balancer_->Connect<grpc::health::v1::Health>("web:80");
  ASSERT_TRUE(stubs.ok());
  std::set<void*> seen_stubs;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<std::shared_ptr<grpc::health::v1::Health::Stub>> stub = stubs->Next();
    ASSERT_TRUE(stub.ok());
    seen_stubs.insert(stub->get());
  }
  EXPECT_EQ(seen_stubs.size(), 2u);  // one stub per pod, reused
}

// The original package's interface.
struct Client {
  std::shared_ptr<grpc::Channel> channel;
};
class KubeBalancer : public GrpcKubeBalancer<Client> {
 public:
  std::unique_ptr<Client> NewGrpcClient(const std::shared_ptr<grpc::Channel>& channel) override {
    ++made;
    return std::make_unique<Client>(Client{channel});
  }
  absl::Status Ping(Client& client) override {
    ++pings;
    return sick.load() == client.channel.get() ? absl::UnavailableError("sick") : absl::OkStatus();
  }
  std::atomic<int> made{0};
  std::atomic<int> pings{0};
  std::atomic<grpc::Channel*> sick{nullptr};
};

TEST_F(BalancerTest, TheOriginalInterfaceMakesClientsOncePerPodAndPings) {
  Make();
  ASSERT_TRUE(balancer_->WaitForReady("web:80", absl::Now() + absl::Seconds(30)).ok());
  KubeBalancer kb;
  std::set<Client*> clients;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<std::shared_ptr<Client>> c = Connect(*balancer_, "web:80", kb);
    ASSERT_TRUE(c.ok()) << c.status();
    clients.insert(c->get());
  }
  EXPECT_EQ(clients.size(), 2u);
  EXPECT_EQ(kb.made.load(), 2);
  // Ping is the health check: a failing pod leaves the rotation.
  kb.sick = (*clients.begin())->channel.get();
  std::set<Client*> after;
  for (int i = 0; i < 500 && after.size() != 1; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    after.clear();
    for (int j = 0; j < 4; ++j) after.insert(Connect(*balancer_, "web:80", kb)->get());
  }
  EXPECT_EQ(after.size(), 1u);
  EXPECT_NE((*after.begin())->channel.get(), kb.sick.load());
  EXPECT_GT(kb.pings.load(), 0);
}

TEST_F(BalancerTest, ShutdownStopsEverything) {
  Make();
  auto handle = balancer_->Connect("web:80");
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(balancer_->WaitForReady("web:80", absl::Now() + absl::Seconds(30)).ok());
  balancer_->Shutdown();
  EXPECT_THAT(handle->Next().status().message(), HasSubstr("shut down"));
  EXPECT_EQ(balancer_->Connect("web:80").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(factory_->live(), 0);
  balancer_.reset();
  EXPECT_THAT(handle->Next().status().message(), HasSubstr("shut down"));  // handle outlives it
}

}  // namespace
}  // namespace kubegrpc
