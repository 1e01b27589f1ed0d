#include "fakek8s/endpoint_controller.h"

#include <map>
#include <random>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

json Service(const std::string& name, json ports, bool headless = false,
             bool publish_not_ready = false) {
  json svc = {{"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", {{"team", "t1"}}}}},
              {"spec", {{"selector", {{"app", name}}}, {"ports", std::move(ports)}}}};
  if (headless) svc["spec"]["clusterIP"] = "None";
  if (publish_not_ready) svc["spec"]["publishNotReadyAddresses"] = true;
  return svc;
}

json GrpcPort(json target = 8080) {
  return json::array({{{"name", "grpc"}, {"port", 80}, {"targetPort", std::move(target)}}});
}

json Pod(const std::string& name, const std::string& app, const std::string& ip, bool ready,
         json container_ports = json::array()) {
  json pod = {
      {"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", app}}}}},
      {"spec",
       {{"nodeName", "node-a"},
        {"containers", json::array({{{"name", "c"}, {"ports", std::move(container_ports)}}})}}},
      {"status",
       {{"phase", "Running"},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
  if (!ip.empty()) pod["status"]["podIP"] = ip;
  return pod;
}

class EndpointControllerTest : public ::testing::Test {
 protected:
  EndpointControllerTest() {
    controller_.Attach(store_);
    EXPECT_TRUE(store_.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  }

  std::vector<json> Slices(const std::string& service) {
    return store_
        .List(Resource::kEndpointSlices, "demo",
              *LabelSelector::Parse(absl::StrCat(kServiceNameLabel, "=", service)))
        .items;
  }

  // "ip ready/serving/terminating" for every endpoint of the Service's slices.
  std::vector<std::string> Endpoints(const std::string& service) {
    std::vector<std::string> out;
    for (const json& slice : Slices(service)) {
      for (const json& e : slice["endpoints"]) {
        const json& c = e["conditions"];
        out.push_back(absl::StrCat(
            e["addresses"][0].get<std::string>(), " ", c["ready"].get<bool>() ? "R" : "-",
            c["serving"].get<bool>() ? "S" : "-", c["terminating"].get<bool>() ? "T" : "-"));
      }
    }
    return out;
  }

  void SetReady(const std::string& pod, bool ready) {
    ASSERT_TRUE(store_
                    .Mutate(Resource::kPods, "demo", pod,
                            [&](json& p) {
                              p["status"]["conditions"][0]["status"] = ready ? "True" : "False";
                              return absl::OkStatus();
                            })
                    .ok());
  }

  void MarkTerminating(const std::string& pod) {
    ASSERT_TRUE(store_
                    .Mutate(Resource::kPods, "demo", pod,
                            [](json& p) {
                              p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
                              return absl::OkStatus();
                            })
                    .ok());
  }

  EndpointController controller_;
  ObjectStore store_;
};

TEST_F(EndpointControllerTest, SliceShapeLabelsAndOwner) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort())).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-1", "web", "127.0.1.1", true)).ok());
  std::vector<json> slices = Slices("web");
  ASSERT_EQ(slices.size(), 1u);
  const json& s = slices[0];
  EXPECT_EQ(s["addressType"], "IPv4");
  EXPECT_EQ(s["metadata"]["generateName"], "web-");
  EXPECT_EQ(s["metadata"]["labels"][kSliceManagedByLabel], kSliceControllerName);
  EXPECT_EQ(s["metadata"]["labels"]["team"], "t1");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["kind"], "Service");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"],
            store_.Get(Resource::kServices, "demo", "web")->at("metadata")["uid"]);
  EXPECT_EQ(s["ports"], json::parse(R"([{"name":"grpc","port":8080,"protocol":"TCP"}])"));
  const json& e = s["endpoints"][0];
  EXPECT_EQ(e["targetRef"]["name"], "web-1");
  EXPECT_EQ(e["nodeName"], "node-a");
}

TEST_F(EndpointControllerTest, ReadinessTransitionsAndTermination) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort())).ok());
  EXPECT_THAT(Endpoints("web"), ElementsAre());
  EXPECT_EQ(Slices("web").size(), 1u);  // placeholder

  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-1", "web", "127.0.1.1", false)).ok());
  EXPECT_THAT(Endpoints("web"), ElementsAre("127.0.1.1 ---"));
  SetReady("web-1", true);
  EXPECT_THAT(Endpoints("web"), ElementsAre("127.0.1.1 RS-"));
  MarkTerminating("web-1");
  EXPECT_THAT(Endpoints("web"), ElementsAre("127.0.1.1 -ST"));
  SetReady("web-1", false);
  EXPECT_THAT(Endpoints("web"), ElementsAre("127.0.1.1 --T"));
  ASSERT_TRUE(store_.Delete(Resource::kPods, "demo", "web-1").ok());
  EXPECT_THAT(Endpoints("web"), ElementsAre());
  EXPECT_EQ(Slices("web").size(), 1u);

  // Legacy Endpoints: ready under addresses, not ready under notReadyAddresses,
  // terminating dropped.
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-2", "web", "127.0.1.2", true)).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-3", "web", "127.0.1.3", false)).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-4", "web", "127.0.1.4", true)).ok());
  MarkTerminating("web-4");
  json ep = *store_.Get(Resource::kEndpoints, "demo", "web");
  ASSERT_EQ(ep["subsets"].size(), 1u);
  EXPECT_EQ(ep["subsets"][0]["addresses"].size(), 1u);
  EXPECT_EQ(ep["subsets"][0]["addresses"][0]["ip"], "127.0.1.2");
  EXPECT_EQ(ep["subsets"][0]["notReadyAddresses"][0]["ip"], "127.0.1.3");
  EXPECT_EQ(ep["subsets"][0]["ports"][0]["port"], 8080);
  EXPECT_EQ(ep["metadata"]["labels"][kEndpointsManagedByLabel], kEndpointsControllerName);
}

TEST_F(EndpointControllerTest, PodsWithoutIpFinishedOrUnmatchedAreLeftOut) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort())).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("no-ip", "web", "", true)).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("other", "db", "127.0.1.9", true)).ok());
  json done = Pod("done", "web", "127.0.1.8", false);
  done["status"]["phase"] = "Succeeded";
  ASSERT_TRUE(store_.Create(Resource::kPods, done).ok());
  EXPECT_THAT(Endpoints("web"), ElementsAre());
  EXPECT_FALSE(store_.Get(Resource::kEndpoints, "demo", "web")->contains("subsets"));
  // The pod gets its IP: now it is an endpoint.
  ASSERT_TRUE(store_
                  .Mutate(Resource::kPods, "demo", "no-ip",
                          [](json& p) {
                            p["status"]["podIP"] = "127.0.1.7";
                            return absl::OkStatus();
                          })
                  .ok());
  EXPECT_THAT(Endpoints("web"), ElementsAre("127.0.1.7 RS-"));
}

TEST_F(EndpointControllerTest, NamedTargetPortResolvesPerPod) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort("grpc-port"))).ok());
  ASSERT_TRUE(store_
                  .Create(Resource::kPods,
                          Pod("a", "web", "127.0.1.1", true,
                              json::parse(R"([{"name":"grpc-port","containerPort":9000}])")))
                  .ok());
  ASSERT_TRUE(store_
                  .Create(Resource::kPods,
                          Pod("b", "web", "127.0.1.2", true,
                              json::parse(R"([{"name":"grpc-port","containerPort":9001}])")))
                  .ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("c", "web", "127.0.1.3", true)).ok());
  // Three port sets -> three slices: 9000, 9001, and none.
  std::map<std::string, std::string> port_by_ip;
  for (const json& slice : Slices("web")) {
    std::string port =
        slice["ports"].empty() ? "none" : std::to_string(slice["ports"][0]["port"].get<int>());
    for (const json& e : slice["endpoints"]) port_by_ip[e["addresses"][0]] = port;
  }
  EXPECT_EQ(port_by_ip, (std::map<std::string, std::string>{
                            {"127.0.1.1", "9000"}, {"127.0.1.2", "9001"}, {"127.0.1.3", "none"}}));
  // Legacy Endpoints leave out the pod that has no such port.
  json ep = *store_.Get(Resource::kEndpoints, "demo", "web");
  EXPECT_EQ(ep["subsets"].size(), 2u);
}

TEST_F(EndpointControllerTest, ManyEndpointsSpreadOverSlicesAndStayPut) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("big", GrpcPort())).ok());
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(
        store_
            .Create(Resource::kPods, Pod(absl::StrCat("big-", i), "big",
                                         absl::StrCat("127.1.", i / 200, ".", i % 200 + 1), true))
            .ok());
  }
  std::vector<json> slices = Slices("big");
  ASSERT_EQ(slices.size(), 3u);
  std::map<std::string, std::string> slice_of;  // ip -> slice name
  std::multiset<size_t> sizes;
  for (const json& s : slices) {
    sizes.insert(s["endpoints"].size());
    for (const json& e : s["endpoints"]) slice_of[e["addresses"][0]] = s["metadata"]["name"];
  }
  EXPECT_EQ(slice_of.size(), 250u);
  EXPECT_THAT(sizes, UnorderedElementsAre(100, 100, 50));

  // One pod goes: only its slice changes, every other endpoint stays where it was.
  const std::string gone_ip = "127.1.0.1";
  ASSERT_TRUE(store_.Delete(Resource::kPods, "demo", "big-0").ok());
  std::map<std::string, std::string> after;
  for (const json& s : Slices("big")) {
    for (const json& e : s["endpoints"]) after[e["addresses"][0]] = s["metadata"]["name"];
  }
  EXPECT_EQ(after.size(), 249u);
  for (const auto& [ip, slice] : after) EXPECT_EQ(slice_of[ip], slice) << ip;

  // A new pod fills the gap instead of creating a fourth slice.
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("big-new", "big", "127.1.9.9", true)).ok());
  EXPECT_EQ(Slices("big").size(), 3u);
}

TEST_F(EndpointControllerTest, HeadlessAndPublishNotReadyAddresses) {
  ASSERT_TRUE(store_
                  .Create(Resource::kServices, Service("hl", json::array(), /*headless=*/true,
                                                       /*publish_not_ready=*/true))
                  .ok());
  json pod = Pod("hl-0", "hl", "127.0.2.1", false);
  pod["spec"]["hostname"] = "hl-0";
  pod["spec"]["subdomain"] = "hl";
  ASSERT_TRUE(store_.Create(Resource::kPods, pod).ok());
  std::vector<json> slices = Slices("hl");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_TRUE(slices[0]["metadata"]["labels"].contains(kHeadlessLabel));
  EXPECT_EQ(slices[0]["ports"], json::array());
  EXPECT_THAT(Endpoints("hl"), ElementsAre("127.0.2.1 R--"));
  EXPECT_EQ(slices[0]["endpoints"][0]["hostname"], "hl-0");
  json ep = *store_.Get(Resource::kEndpoints, "demo", "hl");
  EXPECT_EQ(ep["subsets"][0]["addresses"][0]["ip"], "127.0.2.1");  // ready: published
  EXPECT_FALSE(ep["subsets"][0].contains("ports"));
}

TEST_F(EndpointControllerTest, IPv6PodsGetTheirOwnSlice) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort())).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("v4", "web", "127.0.1.1", true)).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("v6", "web", "::1", true)).ok());
  std::set<std::string> types;
  for (const json& s : Slices("web")) types.insert(s["addressType"]);
  EXPECT_EQ(types, (std::set<std::string>{"IPv4", "IPv6"}));
}

TEST_F(EndpointControllerTest, DeletedServiceLosesSlicesAndEndpoints) {
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort())).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-1", "web", "127.0.1.1", true)).ok());
  // A user-managed slice for a selector-less Service is never touched.
  ASSERT_TRUE(store_
                  .Create(Resource::kEndpointSlices, {{"metadata",
                                                       {{"name", "manual"},
                                                        {"namespace", "demo"},
                                                        {"labels", {{kServiceNameLabel, "ext"}}}}},
                                                      {"addressType", "IPv4"}})
                  .ok());
  ASSERT_TRUE(store_.Delete(Resource::kServices, "demo", "web").ok());
  EXPECT_TRUE(Slices("web").empty());
  EXPECT_FALSE(store_.Get(Resource::kEndpoints, "demo", "web").ok());
  EXPECT_EQ(Slices("ext").size(), 1u);
}

TEST_F(EndpointControllerTest, AttachReconcilesExistingObjects) {
  ObjectStore store;
  ASSERT_TRUE(store
                  .Create(Resource::kServices,
                          [] {
                            json s = Service("web", GrpcPort());
                            s["metadata"]["namespace"] = "default";
                            return s;
                          }())
                  .ok());
  EndpointController controller;
  controller.Attach(store);
  EXPECT_EQ(store.List(Resource::kEndpointSlices, "default").items.size(), 1u);
  EXPECT_TRUE(store.Get(Resource::kEndpoints, "default", "web").ok());
}

// Pod writes take the incremental path; after each, what the store holds must
// be what the pods derive (checked against the pure functions), and every so
// often a full reconcile must find nothing to change.
TEST_F(EndpointControllerTest, ZonesComeFromNodesAndHintsFromTrafficDistribution) {
  auto node = [&](const std::string& name, const std::string& zone) {
    json labels = json::object();
    if (!zone.empty()) labels[kZoneLabel] = zone;
    ASSERT_TRUE(
        store_.Create(Resource::kNodes, {{"metadata", {{"name", name}, {"labels", labels}}}}).ok());
  };
  node("node-a", "us-east-1a");
  node("node-b", "");  // no zone label
  ASSERT_TRUE(store_.Create(Resource::kServices, Service("web", GrpcPort())).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-1", "web", "127.0.1.1", true)).ok());
  json on_b = Pod("web-2", "web", "127.0.1.2", true);
  on_b["spec"]["nodeName"] = "node-b";
  ASSERT_TRUE(store_.Create(Resource::kPods, on_b).ok());
  json unscheduled = Pod("web-3", "web", "127.0.1.3", false);
  unscheduled["spec"]["nodeName"] = "node-c";  // no such Node (yet)
  ASSERT_TRUE(store_.Create(Resource::kPods, unscheduled).ok());
  // Not from the pod's own labels: only its node's.
  json labelled = Pod("web-4", "web", "127.0.1.4", true);
  labelled["metadata"]["labels"][kZoneLabel] = "us-east-1z";
  labelled["spec"]["nodeName"] = "node-b";
  ASSERT_TRUE(store_.Create(Resource::kPods, labelled).ok());
  auto by_ip = [&] {
    std::map<std::string, json> out;
    for (const json& slice : Slices("web")) {
      for (const json& e : slice["endpoints"]) out[e["addresses"][0]] = e;
    }
    return out;
  };
  std::map<std::string, json> e = by_ip();
  EXPECT_EQ(e["127.0.1.1"].value("zone", ""), "us-east-1a");
  EXPECT_FALSE(e["127.0.1.2"].contains("zone"));
  EXPECT_FALSE(e["127.0.1.3"].contains("zone"));
  EXPECT_FALSE(e["127.0.1.4"].contains("zone"));
  for (const auto& [ip, endpoint] : e) EXPECT_FALSE(endpoint.contains("hints")) << ip;

  // The Node appears, and node-b gets a zone: their endpoints follow.
  node("node-c", "us-east-1c");
  ASSERT_TRUE(store_
                  .Mutate(Resource::kNodes, "", "node-b",
                          [](json& n) {
                            n["metadata"]["labels"][kLegacyZoneLabel] = "us-east-1b";
                            return absl::OkStatus();
                          })
                  .ok());
  e = by_ip();
  EXPECT_EQ(e["127.0.1.2"].value("zone", ""), "us-east-1b");
  EXPECT_EQ(e["127.0.1.3"].value("zone", ""), "us-east-1c");
  EXPECT_EQ(e["127.0.1.4"].value("zone", ""), "us-east-1b");

  // PreferSameZone (and PreferClose, its older name): each ready endpoint is
  // hinted for its own zone; the not-ready one gets none.
  for (const char* distribution : {"PreferSameZone", "PreferClose"}) {
    SCOPED_TRACE(distribution);
    ASSERT_TRUE(store_
                    .Mutate(Resource::kServices, "demo", "web",
                            [&](json& svc) {
                              svc["spec"]["trafficDistribution"] = distribution;
                              return absl::OkStatus();
                            })
                    .ok());
    e = by_ip();
    EXPECT_EQ(e["127.0.1.1"]["hints"], json::parse(R"({"forZones":[{"name":"us-east-1a"}]})"));
    EXPECT_EQ(e["127.0.1.2"]["hints"], json::parse(R"({"forZones":[{"name":"us-east-1b"}]})"));
    EXPECT_FALSE(e["127.0.1.3"].contains("hints"));
  }
  // A pod turning ready gets its hint in the same write.
  SetReady("web-3", true);
  EXPECT_EQ(by_ip()["127.0.1.3"]["hints"], json::parse(R"({"forZones":[{"name":"us-east-1c"}]})"));
  // PreferSameNode adds the node.
  ASSERT_TRUE(store_
                  .Mutate(Resource::kServices, "demo", "web",
                          [&](json& svc) {
                            svc["spec"]["trafficDistribution"] = "PreferSameNode";
                            return absl::OkStatus();
                          })
                  .ok());
  EXPECT_EQ(by_ip()["127.0.1.1"]["hints"],
            json::parse(R"({"forNodes":[{"name":"node-a"}],"forZones":[{"name":"us-east-1a"}]})"));
  // Unset again: the hints go.
  ASSERT_TRUE(store_
                  .Mutate(Resource::kServices, "demo", "web",
                          [&](json& svc) {
                            svc["spec"].erase("trafficDistribution");
                            return absl::OkStatus();
                          })
                  .ok());
  for (const auto& [ip, endpoint] : by_ip()) EXPECT_FALSE(endpoint.contains("hints")) << ip;
}

TEST(EndpointControllerIncrementalTest, RandomPodWritesMatchTheDerivation) {
  EndpointControllerOptions options;
  options.max_endpoints_per_slice = 3;
  options.max_endpoints_addresses = 4;
  EndpointController controller(options);
  ObjectStore store;
  controller.Attach(store);
  ASSERT_TRUE(store.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  // "web" resolves a named port (so pods fall into different port groups);
  // "tier" selects on another label.
  // "web" asks for same-zone hints; pods run on nodes in two zones, or on one
  // that does not exist.
  json web = Service("web", GrpcPort("grpc"));
  web["spec"]["trafficDistribution"] = "PreferSameZone";
  ASSERT_TRUE(store.Create(Resource::kServices, web).ok());
  for (const char* node : {"node-a", "node-b"}) {
    ASSERT_TRUE(
        store
            .Create(Resource::kNodes,
                    {{"metadata",
                      {{"name", node}, {"labels", {{kZoneLabel, std::string("z-") + node[5]}}}}}})
            .ok());
  }
  json tier = Service("tier", GrpcPort());
  tier["spec"]["selector"] = {{"tier", "x"}};
  ASSERT_TRUE(store.Create(Resource::kServices, tier).ok());

  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto random_pod = [&](const std::string& name) {
    const bool v6 = pick(8) == 0;
    json pod = Pod(
        name, pick(4) == 0 ? "other" : "web",
        v6 ? absl::StrCat("::1:", pick(30)) : absl::StrCat("127.0.5.", pick(30) + 1), pick(3) != 0,
        pick(4) == 0
            ? json::array()
            : json::array({{{"name", "grpc"}, {"containerPort", pick(2) == 0 ? 8080 : 9090}}}));
    if (pick(2) == 0) pod["metadata"]["labels"]["tier"] = "x";
    pod["spec"]["nodeName"] = std::vector<std::string>{"node-a", "node-b", "node-gone"}[pick(3)];
    return pod;
  };
  auto zone_of = [&](const std::string& node) {
    absl::StatusOr<json> n = store.Get(Resource::kNodes, "", node);
    return n.ok() ? NodeZone(&*n) : std::string();
  };
  std::set<std::string> live;
  for (int step = 0; step < 600; ++step) {
    const std::string name = absl::StrCat("p", pick(24));
    const bool exists = live.count(name) > 0;
    const int op = pick(6);
    if (pick(40) == 0) {
      // A node moves zone (relabelled): its pods' endpoints follow.
      ASSERT_TRUE(store
                      .Mutate(Resource::kNodes, "", pick(2) == 0 ? "node-a" : "node-b",
                              [&](json& n) {
                                n["metadata"]["labels"][kZoneLabel] = absl::StrCat("z-", pick(4));
                                return absl::OkStatus();
                              })
                      .ok());
    } else if (!exists) {
      ASSERT_TRUE(store.Create(Resource::kPods, random_pod(name)).ok());
      live.insert(name);
    } else if (op == 0) {
      ASSERT_TRUE(store.Delete(Resource::kPods, "demo", name).ok());
      live.erase(name);
    } else {
      ASSERT_TRUE(store
                      .Mutate(Resource::kPods, "demo", name,
                              [&](json& p) {
                                json fresh = random_pod(name);
                                if (op == 1) {
                                  p["status"]["conditions"][0]["status"] =
                                      p["status"]["conditions"][0]["status"] == "True" ? "False"
                                                                                       : "True";
                                } else if (op == 2) {
                                  p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
                                } else if (op == 3) {
                                  p["metadata"]["labels"] = fresh["metadata"]["labels"];
                                } else if (op == 4) {
                                  p["status"]["podIP"] = fresh["status"]["podIP"];
                                } else {
                                  p["spec"] = fresh["spec"];
                                  if (pick(5) == 0) p["status"]["phase"] = "Failed";
                                }
                                return absl::OkStatus();
                              })
                      .ok());
    }
    std::vector<json> pods = store.List(Resource::kPods, "demo").items;
    std::vector<const json*> pod_ptrs;
    for (const json& p : pods) pod_ptrs.push_back(&p);
    for (const char* service_name : {"web", "tier"}) {
      SCOPED_TRACE(absl::StrCat("step ", step, " service ", service_name));
      json service = *store.Get(Resource::kServices, "demo", service_name);
      // Endpoints: as derived.
      json want = DeriveLegacyEndpoints(service, pod_ptrs, options);
      json have = *store.Get(Resource::kEndpoints, "demo", service_name);
      EXPECT_EQ(have.value("subsets", json()), want.value("subsets", json()));
      EXPECT_EQ(have["metadata"].value("annotations", json()),
                want["metadata"].value("annotations", json()));
      // Slices: the derived endpoints, each once, in slices of their group with
      // room; no empty slice unless it is the only one.
      std::map<std::string, std::string> want_endpoints;  // id -> group|endpoint
      for (const DerivedEndpoint& d : DeriveSliceEndpoints(service, pod_ptrs, zone_of)) {
        want_endpoints[d.id] = absl::StrCat(d.address_type, d.ports.dump(), d.endpoint.dump());
      }
      std::map<std::string, std::string> have_endpoints;
      std::vector<json> slices =
          store
              .List(Resource::kEndpointSlices, "demo",
                    *LabelSelector::Parse(absl::StrCat(kServiceNameLabel, "=", service_name)))
              .items;
      ASSERT_FALSE(slices.empty());
      for (const json& slice : slices) {
        EXPECT_LE(slice["endpoints"].size(), 3u);
        if (slice["endpoints"].empty()) {
          EXPECT_EQ(slices.size(), 1u);
        }
        for (const json& e : slice["endpoints"]) {
          const std::string id = e["targetRef"]["uid"];
          EXPECT_EQ(have_endpoints.count(id), 0u) << "twice: " << id;
          have_endpoints[id] = absl::StrCat(slice["addressType"].get<std::string>(),
                                            slice["ports"].dump(), e.dump());
        }
      }
      EXPECT_EQ(have_endpoints, want_endpoints);
    }
    if (step % 50 == 49) {
      const std::string rv = store.CurrentResourceVersion();
      store.Transact(
          [&](ObjectStore::Transaction& txn) { controller.ReconcileNamespace(txn, "demo"); });
      EXPECT_EQ(store.CurrentResourceVersion(), rv) << "a full reconcile changed something";
    }
    if (::testing::Test::HasFailure()) return;
  }
}

// A Pod write in a Service of many slices writes only its own slice (and the
// Endpoints object), not every slice.
TEST(EndpointControllerIncrementalTest, PodWriteTouchesOneSlice) {
  EndpointController controller;
  ObjectStore store;
  controller.Attach(store);
  ASSERT_TRUE(store.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  ASSERT_TRUE(store.Create(Resource::kServices, Service("big", GrpcPort())).ok());
  for (int i = 0; i < 450; ++i) {
    ASSERT_TRUE(
        store
            .Create(Resource::kPods, Pod(absl::StrCat("big-", i), "big",
                                         absl::StrCat("127.2.", i / 200, ".", i % 200 + 1), true))
            .ok());
  }
  ASSERT_EQ(store.List(Resource::kEndpointSlices, "demo").items.size(), 5u);
  auto watch = store.StartWatch(Resource::kEndpointSlices,
                                {.namespace_ = "demo", .from_rv = store.CurrentResourceVersion()});
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store
                  .Mutate(Resource::kPods, "demo", "big-7",
                          [](json& p) {
                            p["status"]["conditions"][0]["status"] = "False";
                            return absl::OkStatus();
                          })
                  .ok());
  ObjectStore::WatchEvent event;
  ASSERT_EQ((*watch)->Next(absl::Seconds(10), &event), ObjectStore::Watch::Result::kEvent);
  EXPECT_EQ(event.type, "MODIFIED");
  EXPECT_EQ((*watch)->Next(absl::ZeroDuration(), &event), ObjectStore::Watch::Result::kTimeout);
}

TEST(DeriveLegacyEndpointsTest, TruncatesAtCapacity) {
  json service = Service("web", GrpcPort());
  std::vector<json> pods;
  for (int i = 0; i < 5; ++i) {
    pods.push_back(Pod(absl::StrCat("p", i), "web", absl::StrCat("127.0.3.", i + 1), true));
  }
  std::vector<const json*> ptrs;
  for (const json& p : pods) ptrs.push_back(&p);
  EndpointControllerOptions options;
  options.max_endpoints_addresses = 3;
  json ep = DeriveLegacyEndpoints(service, ptrs, options);
  EXPECT_EQ(ep["subsets"][0]["addresses"].size(), 3u);
  EXPECT_EQ(ep["metadata"]["annotations"][kOverCapacityAnnotation], "truncated");
}

}  // namespace
}  // namespace fakek8s
