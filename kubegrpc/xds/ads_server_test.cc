// The ADS protocol as AdsServer speaks it, checked with a raw ADS client (the
// generated stub): versions and nonces per type, ACK, NACK, stale nonces,
// subscribing and unsubscribing by name, a Service that does not exist, many
// Services on one stream, a client reconnecting. Discovery runs against
// fakek8s over HTTPS with real pods, as in production.

#include "kubegrpc/xds/ads_server.h"

#include <deque>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "fakek8s/tls.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "kubegrpc/http_k8s_client.h"
#include "kubegrpc/xds/resources.h"
#include "nlohmann/json.hpp"
#include "testing/ads_fleet.h"
#include "testing/fake_cluster.h"

namespace kubegrpc::xds {
namespace {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using ::kubegrpc::testing::DeploymentSpec;
using ::kubegrpc::testing::FakeCluster;
using ::testing::HasSubstr;

// Generous: a loaded machine is slow, never wrong.
constexpr absl::Duration kPatience = absl::Seconds(60);

bool WaitFor(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// One ADS stream; a thread reads its responses into a queue.
class AdsClient {
 public:
  // `read`: false for a client that never reads its responses (stuck).
  explicit AdsClient(
      int port,
      std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials(),
      bool read = true)
      : stub_(AggregatedDiscoveryService::NewStub(
            grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), credentials))),
        stream_(stub_->StreamAggregatedResources(&context_)),
        reader_([this, read] {
          if (!read) return;
          DiscoveryResponse r;
          while (stream_->Read(&r)) {
            absl::MutexLock lock(&mu_);
            responses_.push_back(r);
            ++received_;
          }
          absl::MutexLock lock(&mu_);
          closed_ = true;
        }) {}
  ~AdsClient() {
    stream_->WritesDone();
    context_.TryCancel();
    reader_.join();
  }

  // A request for `type` with `names`, answering the last response of that
  // type (`nonce`/`version`: "" for the first), NACKing it if `error` is set.
  void Request(const std::string& type, const std::vector<std::string>& names,
               const std::string& version = "", const std::string& nonce = "",
               const std::string& error = "") {
    DiscoveryRequest request;
    if (!anonymous) request.mutable_node()->set_id("ads-server-test");
    request.set_type_url(type);
    for (const std::string& n : names) request.add_resource_names(n);
    request.set_version_info(version);
    request.set_response_nonce(nonce);
    if (!error.empty()) {
      request.mutable_error_detail()->set_code(3);
      request.mutable_error_detail()->set_message(error);
    }
    const bool written = stream_->Write(request);
    if (must_write) EXPECT_TRUE(written);
  }
  // Requests must reach the server (false: a stream that may be refused).
  bool must_write = true;
  // Requests without a node (a malformed client's).
  bool anonymous = false;
  void Ack(const DiscoveryResponse& r, const std::vector<std::string>& names) {
    Request(r.type_url(), names, r.version_info(), r.nonce());
  }

  // The next response (of `type`, skipping others), or nullopt after a
  // generous wait.
  std::optional<DiscoveryResponse> Next(const std::string& type) {
    const absl::Time deadline = absl::Now() + kPatience;
    absl::MutexLock lock(&mu_);
    while (true) {
      for (auto it = responses_.begin(); it != responses_.end(); ++it) {
        if (it->type_url() == type) {
          DiscoveryResponse r = std::move(*it);
          responses_.erase(it);
          return r;
        }
      }
      const size_t seen = received_;
      auto more = [this, seen]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_ > seen || closed_; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&more), deadline) || closed_) {
        return std::nullopt;
      }
    }
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<AggregatedDiscoveryService::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<DiscoveryRequest, DiscoveryResponse>> stream_;
  absl::Mutex mu_;
  std::deque<DiscoveryResponse> responses_ ABSL_GUARDED_BY(mu_);
  size_t received_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

// The names of a response's resources.
std::vector<std::string> Names(const DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) {
    if (r.type_url() == kListenerType) {
      envoy::config::listener::v3::Listener l;
      EXPECT_TRUE(any.UnpackTo(&l));
      out.push_back(l.name());
    } else if (r.type_url() == kClusterType) {
      envoy::config::cluster::v3::Cluster c;
      EXPECT_TRUE(any.UnpackTo(&c));
      out.push_back(c.name());
    } else {
      envoy::config::endpoint::v3::ClusterLoadAssignment a;
      EXPECT_TRUE(any.UnpackTo(&a));
      out.push_back(a.cluster_name());
    }
  }
  return out;
}

// The addresses of the HEALTHY endpoints of a ClusterLoadAssignment response.
std::set<std::string> Healthy(const DiscoveryResponse& r) {
  std::set<std::string> out;
  for (const auto& any : r.resources()) {
    envoy::config::endpoint::v3::ClusterLoadAssignment a;
    EXPECT_TRUE(any.UnpackTo(&a));
    for (const auto& locality : a.endpoints()) {
      for (const auto& e : locality.lb_endpoints()) {
        if (e.health_status() == envoy::config::core::v3::HEALTHY) {
          out.insert(absl::StrCat(e.endpoint().address().socket_address().address(), ":",
                                  e.endpoint().address().socket_address().port_value()));
        }
      }
    }
  }
  return out;
}

class AdsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    for (const char* name : {"web", "api"}) {
      DeploymentSpec spec;
      spec.name = name;
      spec.replicas = 2;
      ASSERT_TRUE(cluster_->CreateDeployment(spec).ok());
    }
    auto client = HttpK8sClient::Create(cluster_->client_config());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    registry_ = std::make_unique<ServiceRegistry>(client_.get(), DiscoveryOptions());
    AdsServerOptions options;
    options.unsubscribe_grace = absl::ZeroDuration();
    options.on_log = [this](const std::string& line) {
      absl::MutexLock lock(&mu_);
      log_.push_back(line);
    };
    auto server = AdsServer::Start(registry_.get(), "127.0.0.1:0", options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }
  std::vector<std::string> Log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }

  std::unique_ptr<FakeCluster> cluster_;
  std::unique_ptr<HttpK8sClient> client_;
  std::unique_ptr<ServiceRegistry> registry_;
  std::unique_ptr<AdsServer> server_;
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

TEST_F(AdsServerTest, ListenerClusterAndEndpointsWithVersionsNoncesAndAcks) {
  AdsClient ads(server_->port());
  ads.Request(kListenerType, {"web.demo:80"});
  std::optional<DiscoveryResponse> lds = ads.Next(kListenerType);
  ASSERT_TRUE(lds.has_value());
  EXPECT_THAT(Names(*lds), ::testing::ElementsAre("web.demo:80"));
  EXPECT_EQ(lds->version_info(), "1");
  EXPECT_FALSE(lds->nonce().empty());
  ads.Ack(*lds, {"web.demo:80"});

  ads.Request(kClusterType, {"demo/web:80"});
  std::optional<DiscoveryResponse> cds = ads.Next(kClusterType);
  ASSERT_TRUE(cds.has_value());
  EXPECT_THAT(Names(*cds), ::testing::ElementsAre("demo/web:80"));
  EXPECT_NE(cds->nonce(), lds->nonce());
  ads.Ack(*cds, {"demo/web:80"});

  ads.Request(kEndpointType, {"demo/web:80"});
  std::optional<DiscoveryResponse> eds = ads.Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  EXPECT_THAT(Names(*eds), ::testing::ElementsAre("demo/web:80"));
  std::set<std::string> pods;
  for (const std::string& name : cluster_->Pods("web")) {
    pods.insert(cluster_->pod(name)->address());
  }
  EXPECT_EQ(Healthy(*eds), pods);
  ads.Ack(*eds, {"demo/web:80"});
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().acks == 3; }));

  // One Service, one discovery, however it is asked for.
  EXPECT_EQ(server_->Stats().services, 1);
  EXPECT_EQ(registry_->Services(), std::vector<std::string>{"demo/web:80"});

  // A new pod: EDS again (a new version and nonce); the Listener and Cluster
  // did not change, so they are not resent.
  ASSERT_TRUE(cluster_->ScaleTo("web", 3).ok());
  std::optional<DiscoveryResponse> next = ads.Next(kEndpointType);
  ASSERT_TRUE(next.has_value());
  while (Healthy(*next).size() < 3) {
    ads.Ack(*next, {"demo/web:80"});
    next = ads.Next(kEndpointType);
    ASSERT_TRUE(next.has_value());
  }
  EXPECT_GT(std::stoi(next->version_info()), std::stoi(eds->version_info()));
  EXPECT_NE(next->nonce(), eds->nonce());
  EXPECT_EQ(server_->Stats().nacks, 0);
}

TEST_F(AdsServerTest, ANackIsReportedAndNothingIsResentUntilTheStateChanges) {
  AdsClient ads(server_->port());
  ads.Request(kClusterType, {"demo/web:80"});
  std::optional<DiscoveryResponse> cds = ads.Next(kClusterType);
  ASSERT_TRUE(cds.has_value());
  ads.Request(kClusterType, {"demo/web:80"}, "", cds->nonce(), "cluster demo/web:80: no good");
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().nacks == 1; }));
  EXPECT_THAT(Log(), ::testing::Contains(HasSubstr("cluster demo/web:80: no good")));
  EXPECT_THAT(Log(), ::testing::Contains(HasSubstr("ads-server-test")));
  // A request with an older nonce is stale: ignored.
  ads.Request(kClusterType, {"demo/web:80"}, "1", "an-old-nonce");
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().stale == 1; }));
  // Subscribing to another Service on the same type is answered: the new
  // response holds both, and it is the next version (nothing was resent for
  // the NACK).
  ads.Request(kClusterType, {"demo/web:80", "demo/api:80"}, "", cds->nonce());
  std::optional<DiscoveryResponse> both = ads.Next(kClusterType);
  ASSERT_TRUE(both.has_value());
  EXPECT_THAT(Names(*both), ::testing::ElementsAre("demo/api:80", "demo/web:80"));
  EXPECT_EQ(both->version_info(), "2");
}

// Assignments go out only when they change, but not after a NACK: the client
// kept none of what it rejected, so the next response carries them all.
TEST_F(AdsServerTest, AfterANackTheNextAssignmentsResponseCarriesEveryOne) {
  AdsClient ads(server_->port());
  const std::vector<std::string> both = {"demo/api:80", "demo/web:80"};
  ads.Request(kEndpointType, both);
  std::optional<DiscoveryResponse> eds = ads.Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  while (eds->resources_size() < 2) {  // the second Service's list may come later
    ads.Ack(*eds, both);
    eds = ads.Next(kEndpointType);
    ASSERT_TRUE(eds.has_value());
  }
  ads.Request(kEndpointType, both, "", eds->nonce(), "rejected for the test");
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().nacks == 1; }));
  ASSERT_TRUE(cluster_->ScaleTo("web", 3).ok());
  std::optional<DiscoveryResponse> next = ads.Next(kEndpointType);
  ASSERT_TRUE(next.has_value());
  EXPECT_THAT(Names(*next), ::testing::ElementsAre("demo/api:80", "demo/web:80"));
  // ACKed, a later change carries only its own Service: wait until web's 3rd
  // pod is in (its readiness may come in a response of its own).
  ads.Ack(*next, both);
  while (Healthy(*next).size() != (Names(*next).size() == 2 ? 5u : 3u)) {
    next = ads.Next(kEndpointType);
    ASSERT_TRUE(next.has_value());
    ads.Ack(*next, both);
  }
  ASSERT_TRUE(cluster_->ScaleTo("web", 4).ok());
  std::optional<DiscoveryResponse> only_web = ads.Next(kEndpointType);
  ASSERT_TRUE(only_web.has_value());
  EXPECT_THAT(Names(*only_web), ::testing::ElementsAre("demo/web:80"));
}

TEST_F(AdsServerTest, AServiceThatDoesNotExistIsLeftOutAndBadNamesGetNothing) {
  AdsClient ads(server_->port());
  ads.Request(kListenerType, {"web.demo:80", "nosuch.demo:80", "web.demo:81", "not a target"});
  std::optional<DiscoveryResponse> lds = ads.Next(kListenerType);
  ASSERT_TRUE(lds.has_value());
  // The first answer waits until the API has spoken about each Service.
  EXPECT_THAT(Names(*lds), ::testing::ElementsAre("web.demo:80"));

  ads.Request(kClusterType, {"demo/nosuch:80"});
  std::optional<DiscoveryResponse> cds = ads.Next(kClusterType);
  ASSERT_TRUE(cds.has_value());
  EXPECT_EQ(cds->resources_size(), 0);  // "does not exist", not an empty cluster

  // A client that never says who it is (no node) is served all the same.
  AdsClient anonymous(server_->port());
  anonymous.anonymous = true;
  anonymous.Request(kListenerType, {"web.demo:80"});
  std::optional<DiscoveryResponse> served = anonymous.Next(kListenerType);
  ASSERT_TRUE(served.has_value());
  EXPECT_THAT(Names(*served), ::testing::ElementsAre("web.demo:80"));

  // A type this server does not serve: ignored, and said so.
  ads.Request("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", {"x"});
  EXPECT_TRUE(WaitFor([&] {
    for (const std::string& line : Log()) {
      if (line.find("TypedExtensionConfig") != std::string::npos) return true;
    }
    return false;
  }));
}

TEST_F(AdsServerTest, UnsubscribingDropsTheResourceAndStopsItsDiscovery) {
  AdsClient ads(server_->port());
  ads.Request(kEndpointType, {"demo/web:80", "demo/api:80"});
  std::optional<DiscoveryResponse> eds = ads.Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  while (eds->resources_size() < 2) {  // each Service's set arrives as it is listed
    ads.Ack(*eds, {"demo/web:80", "demo/api:80"});
    eds = ads.Next(kEndpointType);
    ASSERT_TRUE(eds.has_value());
  }
  EXPECT_EQ(server_->Stats().services, 2);
  ads.Request(kEndpointType, {"demo/web:80"}, eds->version_info(), eds->nonce());
  std::optional<DiscoveryResponse> one = ads.Next(kEndpointType);
  ASSERT_TRUE(one.has_value());
  EXPECT_THAT(Names(*one), ::testing::ElementsAre("demo/web:80"));
  // unsubscribe_grace is 0 here: api's discovery stops once nobody needs it.
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().services == 1; }));
  EXPECT_TRUE(
      WaitFor([&] { return registry_->Services() == std::vector<std::string>{"demo/web:80"}; }));
}

TEST_F(AdsServerTest, AClientThatReconnectsStartsAfreshOnTheSameDiscovery) {
  for (int round = 0; round < 2; ++round) {
    AdsClient ads(server_->port());
    ads.Request(kListenerType, {"web.demo:80", "api.demo:80"});
    std::optional<DiscoveryResponse> lds = ads.Next(kListenerType);
    ASSERT_TRUE(lds.has_value()) << round;
    EXPECT_EQ(lds->version_info(), "1") << round;
    EXPECT_THAT(Names(*lds), ::testing::ElementsAre("api.demo:80", "web.demo:80")) << round;
  }
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().open_streams == 0; }));
  EXPECT_EQ(server_->Stats().streams, 2);
}

TEST_F(AdsServerTest, TheServicesAnnotationsSetItsPoliciesAndBadOnesAreReported) {
  absl::StatusOr<nlohmann::json> annotated = cluster_->k8s().store().Mutate(
      fakek8s::Resource::kServices, "demo", "api", [](nlohmann::json& service) {
        service["metadata"]["annotations"] = {
            {"kube-grpc.io/lb-policy", "ring_hash"},
            {"kube-grpc.io/retry", R"({"retryOn": "unavailable", "numRetries": 2})"},
            {"kube-grpc.io/outlier-detection", "{not json"},
        };
        return absl::OkStatus();
      });
  ASSERT_TRUE(annotated.ok()) << annotated.status();
  AdsClient ads(server_->port());
  ads.Request(kClusterType, {"demo/api:80", "demo/web:80"});
  std::optional<DiscoveryResponse> cds = ads.Next(kClusterType);
  ASSERT_TRUE(cds.has_value());
  ASSERT_EQ(cds->resources_size(), 2);
  std::map<std::string, envoy::config::cluster::v3::Cluster> clusters;
  for (const auto& any : cds->resources()) {
    envoy::config::cluster::v3::Cluster c;
    ASSERT_TRUE(any.UnpackTo(&c));
    clusters[c.name()] = c;
  }
  // Both unusable: the defaults, and a line each naming the Service.
  EXPECT_EQ(clusters["demo/api:80"].lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_FALSE(clusters["demo/api:80"].has_outlier_detection());
  EXPECT_EQ(clusters["demo/web:80"].lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_THAT(Log(), ::testing::Contains(::testing::AllOf(
                         HasSubstr("demo/api:80"), HasSubstr("kube-grpc.io/outlier-detection"))));
  EXPECT_THAT(Log(), ::testing::Contains(::testing::AllOf(HasSubstr("demo/api:80"),
                                                          HasSubstr("kube-grpc.io/lb-policy"))));

  ads.Request(kListenerType, {"api.demo:80"});
  std::optional<DiscoveryResponse> lds = ads.Next(kListenerType);
  ASSERT_TRUE(lds.has_value());
  ASSERT_EQ(lds->resources_size(), 1);
  envoy::config::listener::v3::Listener l;
  ASSERT_TRUE(lds->resources(0).UnpackTo(&l));
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&hcm));
  EXPECT_EQ(hcm.route_config().virtual_hosts(0).routes(0).route().retry_policy().retry_on(),
            "unavailable");
}

// Back-pressure: a client that never reads its stream is sent what HTTP/2
// flow control lets through (the client's window and the sockets' buffers),
// then nothing more: the server keeps the write under way and, per type,
// only the latest state (coalesced), never a queue of every change. The
// others get every change all the same.
TEST_F(AdsServerTest, AStuckStreamDoesNotHoldUpTheOthersAndQueuesNothing) {
  // A selector-less Service with one large EndpointSlice (no pods needed: the
  // clients below only speak ADS), ~150 KB per response.
  ASSERT_TRUE(
      cluster_->k8s()
          .store()
          .Create(fakek8s::Resource::kServices,
                  {{"metadata", {{"name", "big"}, {"namespace", "demo"}}},
                   {"spec",
                    {{"ports", nlohmann::json::array(
                                   {{{"name", "grpc"}, {"port", 80}, {"targetPort", 8080}}})}}}})
          .ok());
  constexpr size_t kEndpoints = 5000;
  nlohmann::json endpoints = nlohmann::json::array();
  for (size_t i = 0; i < kEndpoints; ++i) {
    endpoints.push_back(
        {{"addresses", {absl::StrCat("127.9.", i / 250, ".", i % 250 + 1)}},
         {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}}});
  }
  ASSERT_TRUE(cluster_->k8s()
                  .store()
                  .Create(fakek8s::Resource::kEndpointSlices,
                          {{"apiVersion", "discovery.k8s.io/v1"},
                           {"kind", "EndpointSlice"},
                           {"metadata",
                            {{"name", "big-1"},
                             {"namespace", "demo"},
                             {"labels", {{"kubernetes.io/service-name", "big"}}}}},
                           {"addressType", "IPv4"},
                           {"ports", nlohmann::json::array({{{"name", "grpc"}, {"port", 8080}}})},
                           {"endpoints", endpoints}})
                  .ok());
  AdsClient stuck(server_->port(), grpc::InsecureChannelCredentials(), /*read=*/false);
  stuck.Request(kEndpointType, {"demo/big:80"});
  AdsClient healthy(server_->port());
  healthy.Request(kEndpointType, {"demo/big:80"});
  std::optional<DiscoveryResponse> eds = healthy.Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  ASSERT_EQ(Healthy(*eds).size(), kEndpoints);
  int healthy_received = 1;
  // One change; the healthy client must see it (and does, in order).
  int change = 0;
  auto one_change = [&] {
    ++change;
    ASSERT_TRUE(cluster_->k8s()
                    .store()
                    .Mutate(fakek8s::Resource::kEndpointSlices, "demo", "big-1",
                            [c = change](nlohmann::json& slice) {
                              slice["endpoints"][0]["conditions"]["ready"] = c % 2 == 0;
                              return absl::OkStatus();
                            })
                    .ok());
    healthy.Ack(*eds, {"demo/big:80"});
    eds = healthy.Next(kEndpointType);
    ASSERT_TRUE(eds.has_value()) << "change " << change;
    ++healthy_received;
    EXPECT_EQ(Healthy(*eds).size(), change % 2 == 0 ? kEndpoints : kEndpoints - 1)
        << "change " << change;
  };
  // What the stuck stream has been sent (a response counts once written).
  auto stuck_sent = [&] { return server_->Stats().responses - healthy_received; };
  // Changes until the stuck stream's window is full: ten in a row reach it no more.
  int64_t last = -1;
  int unchanged = 0;
  while (unchanged < 10 && change < 300) {
    ASSERT_NO_FATAL_FAILURE(one_change());
    // Let a write to the stuck stream that can still finish do so.
    absl::SleepFor(absl::Milliseconds(20));
    const int64_t now = stuck_sent();
    unchanged = now == last ? unchanged + 1 : 0;
    last = now;
  }
  ASSERT_EQ(unchanged, 10) << "the stuck stream kept taking responses: " << last;
  // From now on: 30 more changes, every one to the healthy client, and next
  // to none to the stuck one (a write that was slow to finish at most).
  for (int i = 0; i < 30; ++i) ASSERT_NO_FATAL_FAILURE(one_change());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_LE(stuck_sent(), last + 2) << "the stuck stream was sent a response per change";
  EXPECT_EQ(server_->Stats().open_streams, 2);
}

// The API server goes away: every client keeps the endpoints it has (nothing
// is withdrawn for an error), a client that connects meanwhile gets the last
// known ones, and changes flow again once the API is back.
TEST_F(AdsServerTest, AnApiOutageKeepsEveryClientsLastEndpoints) {
  AdsClient first(server_->port());
  first.Request(kEndpointType, {"demo/web:80"});
  std::optional<DiscoveryResponse> eds = first.Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  ASSERT_EQ(Healthy(*eds).size(), 2u);
  first.Ack(*eds, {"demo/web:80"});

  struct Quiet : ServiceRegistry::Subscriber {
    void OnEndpoints(const std::shared_ptr<const EndpointSet>&, const EndpointDelta&) override {}
  } quiet;
  absl::StatusOr<ServiceTarget> target = ParseTarget("web.demo:80");
  ASSERT_TRUE(target.ok());
  std::unique_ptr<ServiceRegistry::Subscription> status = registry_->Subscribe(*target, &quiet);
  const int64_t errors = status->status().errors;
  cluster_->api().BeginOutage();
  cluster_->api().DropWatches();
  ASSERT_TRUE(WaitFor([&] { return status->status().errors > errors; }));  // discovery noticed

  AdsClient during(server_->port());
  during.Request(kEndpointType, {"demo/web:80"});
  std::optional<DiscoveryResponse> last_known = during.Next(kEndpointType);
  ASSERT_TRUE(last_known.has_value());
  EXPECT_EQ(Healthy(*last_known), Healthy(*eds));

  ASSERT_TRUE(cluster_->api().EndOutage().ok());
  ASSERT_TRUE(cluster_->ScaleTo("web", 3).ok());
  for (AdsClient* client : {&first, &during}) {
    std::optional<DiscoveryResponse> next = client->Next(kEndpointType);
    while (next.has_value() && Healthy(*next).size() != 3) {
      EXPECT_GE(Healthy(*next).size(), 2u);  // nothing withdrawn on the way
      client->Ack(*next, {"demo/web:80"});
      next = client->Next(kEndpointType);
    }
    ASSERT_TRUE(next.has_value());
  }
}

// Many clients, one discovery per Service: a fleet of 50 streams (5
// connections) subscribed to both Services gets both, then every change,
// while the API is asked once per Service.
TEST_F(AdsServerTest, AFleetOfStreamsSharesOneDiscoveryPerService) {
  const int64_t lists = cluster_->api().RequestCounts()["list endpointslices"];
  auto fleet = testing::AdsFleet::Start(absl::StrCat("127.0.0.1:", server_->port()), 50,
                                        {"demo/web:80", "demo/api:80"});
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_TRUE((*fleet)->WaitUntil(testing::AdsFleet::AllSee("demo/web:80", 2), kPatience));
  ASSERT_TRUE((*fleet)->WaitUntil(testing::AdsFleet::AllSee("demo/api:80", 2), kPatience));
  ASSERT_TRUE(cluster_->ScaleTo("web", 3).ok());
  ASSERT_TRUE((*fleet)->WaitUntil(testing::AdsFleet::AllSee("demo/web:80", 3), kPatience));
  // The change of web's endpoints went out alone: api's assignment, which did
  // not change, was sent to each stream once.
  for (const auto& view : (*fleet)->Views()) EXPECT_EQ(view.at("demo/api:80").responses, 1);
  EXPECT_EQ(cluster_->api().RequestCounts()["list endpointslices"], lists + 2);
  EXPECT_EQ(registry_->Services().size(), 2u);
  EXPECT_EQ(server_->Stats().open_streams, 50);
  EXPECT_EQ((*fleet)->ended(), 0);
}

// kube-grpc-xds --namespaces: a Service elsewhere does not exist for the
// clients, and the API is not asked about it.
TEST_F(AdsServerTest, ServicesOutsideTheServedNamespacesDoNotExist) {
  server_->Shutdown();
  AdsServerOptions options;
  options.namespaces = {"other"};
  options.on_log = [this](const std::string& line) {
    absl::MutexLock lock(&mu_);
    log_.push_back(line);
  };
  auto server = AdsServer::Start(registry_.get(), "127.0.0.1:0", options);
  ASSERT_TRUE(server.ok()) << server.status();
  AdsClient ads((*server)->port());
  ads.Request(kListenerType, {"web.demo:80"});
  std::optional<DiscoveryResponse> lds = ads.Next(kListenerType);
  ASSERT_TRUE(lds.has_value());
  EXPECT_EQ(lds->resources_size(), 0);
  EXPECT_TRUE(registry_->Services().empty());
  EXPECT_TRUE(WaitFor([&] {
    for (const std::string& line : Log()) {
      if (line.find("demo/web:80") != std::string::npos &&
          line.find("namespace is not served") != std::string::npos) {
        return true;
      }
    }
    return false;
  }));
  // Each stream is logged with the client's node id.
  EXPECT_TRUE(WaitFor([&] {
    for (const std::string& line : Log()) {
      if (line.find("stream from node \"ads-server-test\"") != std::string::npos) return true;
    }
    return false;
  }));
}

// kube-grpc-xds --tls_cert/--tls_key (and --client_ca): the server's port
// speaks TLS, and with a client CA only clients with a certificate it signed
// get anything.
TEST_F(AdsServerTest, TlsAndMutualTls) {
  absl::StatusOr<fakek8s::ServerCertificates> certs = fakek8s::GenerateServerCertificates();
  ASSERT_TRUE(certs.ok()) << certs.status();
  for (bool mutual : {false, true}) {
    SCOPED_TRACE(mutual ? "mTLS" : "TLS");
    grpc::SslServerCredentialsOptions tls(
        mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    tls.pem_key_cert_pairs.push_back({certs->key_pem, certs->cert_pem});
    if (mutual) tls.pem_root_certs = certs->ca_pem;
    AdsServerOptions options;
    options.credentials = grpc::SslServerCredentials(tls);
    auto server = AdsServer::Start(registry_.get(), "127.0.0.1:0", options);
    ASSERT_TRUE(server.ok()) << server.status();
    auto lds_with = [&](std::shared_ptr<grpc::ChannelCredentials> credentials) {
      AdsClient ads((*server)->port(), std::move(credentials));
      ads.must_write = false;
      ads.Request(kListenerType, {"web.demo:80"});
      return ads.Next(kListenerType).has_value();
    };
    grpc::SslCredentialsOptions trusting;
    trusting.pem_root_certs = certs->ca_pem;
    grpc::SslCredentialsOptions with_certificate = trusting;
    with_certificate.pem_private_key = certs->key_pem;
    with_certificate.pem_cert_chain = certs->cert_pem;
    EXPECT_TRUE(lds_with(grpc::SslCredentials(with_certificate)));
    EXPECT_EQ(lds_with(grpc::SslCredentials(trusting)), !mutual);
    EXPECT_FALSE(lds_with(grpc::InsecureChannelCredentials()));
  }
}

TEST_F(AdsServerTest, BadListenAddressesAreRejectedClearly) {
  EXPECT_EQ(AdsServer::Start(registry_.get(), "nowhere").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<AdsServer>> taken =
      AdsServer::Start(registry_.get(), absl::StrCat("127.0.0.1:", server_->port()));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kubegrpc::xds
