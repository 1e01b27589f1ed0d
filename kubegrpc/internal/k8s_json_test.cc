#include "kubegrpc/internal/k8s_json.h"

#include <optional>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc::internal {
namespace {

using ::testing::HasSubstr;

TEST(K8sJsonTest, SliceWithNullsMissingFieldsAndUnknownFields) {
  auto list = DecodeEndpointList(EndpointSource::kEndpointSlices, R"({
    "kind":"EndpointSliceList","metadata":{"resourceVersion":"7"},"items":[
      {"metadata":{"name":"a","resourceVersion":"5"},"addressType":"IPv4","endpoints":null,"ports":null},
      {"metadata":{"name":"b"},"newField":{"x":1},
       "endpoints":[{"addresses":["10.0.0.1"]},
                    {"addresses":["10.0.0.2","10.0.0.3"],"conditions":{"ready":false,"serving":true,"terminating":true},
                     "targetRef":{"kind":"Pod","name":"p2"},"nodeName":"n","zone":"z","hostname":"h"},
                    {"addresses":[]},{"conditions":{}},7],
       "ports":[{"name":"grpc","port":8080},{"port":null},{"name":"x","port":70000}]}]})");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->resource_version, "7");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_TRUE(list->items[0].endpoints.empty());
  const auto& b = list->items[1];
  ASSERT_EQ(b.endpoints.size(), 2u);
  EXPECT_EQ(b.endpoints[0].address, "10.0.0.1");
  EXPECT_FALSE(b.endpoints[0].ready.has_value());  // defaults are discovery's job
  EXPECT_EQ(b.endpoints[1].address, "10.0.0.2");   // the first address
  EXPECT_EQ(b.endpoints[1].ready, false);
  EXPECT_EQ(b.endpoints[1].terminating, true);
  EXPECT_EQ(b.endpoints[1].pod_name, "p2");
  EXPECT_EQ(b.endpoints[1].zone, "z");
  ASSERT_EQ(b.endpoints[0].ports.size(), 3u);
  EXPECT_EQ(b.endpoints[0].ports[0].port, 8080);
  EXPECT_EQ(b.endpoints[0].ports[1].port, 0);  // null
  EXPECT_EQ(b.endpoints[0].ports[2].port, 0);  // out of range
}

TEST(K8sJsonTest, LegacyEndpoints) {
  auto list =
      DecodeEndpointList(EndpointSource::kEndpoints, R"({"items":[{"metadata":{"name":"web"},
    "subsets":[{"addresses":[{"ip":"10.0.0.1","targetRef":{"name":"p1"}}],
                "notReadyAddresses":[{"ip":"10.0.0.2"}],"ports":[{"name":"grpc","port":8080}]}]},
    {"metadata":{"name":"empty"}}]})");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->items[0].endpoints.size(), 2u);
  EXPECT_EQ(list->items[0].endpoints[0].ready, true);
  EXPECT_EQ(list->items[0].endpoints[1].ready, false);
  EXPECT_EQ(list->items[0].endpoints[1].serving, false);
  EXPECT_TRUE(list->items[1].endpoints.empty());
}

TEST(K8sJsonTest, WatchEvents) {
  auto e = DecodeWatchEvent(
      EndpointSource::kEndpointSlices,
      R"({"type":"BOOKMARK","object":{"kind":"EndpointSlice","metadata":{"resourceVersion":"12"}}})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(e->resource_version, "12");
  e = DecodeWatchEvent(
      EndpointSource::kEndpointSlices,
      R"j({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, WatchEvent::Type::kError);
  EXPECT_EQ(e->error.code(), absl::StatusCode::kOutOfRange);
  e = DecodeWatchEvent(
      EndpointSource::kEndpointSlices,
      R"({"object":{"metadata":{"name":"a","resourceVersion":"9"}},"type":"DELETED"})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(e->object.name, "a");
  EXPECT_EQ(e->resource_version, "9");
}

// What a WatchEvent holds, as text, for comparing two decoders.
std::string Describe(const absl::StatusOr<WatchEvent>& e) {
  if (!e.ok()) return "error: " + e.status().ToString();
  std::string out = absl::StrCat("type ", static_cast<int>(e->type), " rv ", e->resource_version,
                                 " error ", e->error.ToString(), " name ", e->object.name, " orv ",
                                 e->object.resource_version, "\n");
  auto opt = [](const std::optional<bool>& b) { return b.has_value() ? (*b ? "T" : "F") : "-"; };
  for (const EndpointInfo& i : e->object.endpoints) {
    absl::StrAppend(&out, i.address, " ", opt(i.ready), opt(i.serving), opt(i.terminating),
                    " h=", i.hostname, " n=", i.node_name, " z=", i.zone, " p=", i.pod_name,
                    " for=", absl::StrJoin(i.for_zones, ","), " ports:");
    for (const EndpointPort& p : i.ports)
      absl::StrAppend(&out, " ", p.name, "/", p.port, "/", p.protocol);
    out += "\n";
  }
  return out;
}

// Random watch lines around the EndpointSlice shape: every field sometimes of
// the wrong type, missing, repeated or surrounded by unknown fields; some lines
// cut short. Whatever the streaming decoder takes must decode exactly as the
// tree does, and the public decoder must always agree with the tree.
TEST(K8sJsonTest, StreamingSliceDecoderMatchesTheTree) {
  std::mt19937 rng(2026);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto junk = [&]() -> nlohmann::json {
    switch (pick(7)) {
      case 0:
        return nullptr;
      case 1:
        return pick(2) == 0;
      case 2:
        return pick(100000) - 5;
      case 3:
        return 1.5;
      case 4:
        return "s\u00e9";
      case 5:
        return nlohmann::json::array({1, "x", {{"k", nlohmann::json::array()}}});
      default:
        return {{"name", "n"}, {"port", 80}, {"ready", true}};
    }
  };
  auto maybe = [&](nlohmann::json good) { return pick(6) == 0 ? junk() : good; };
  int taken = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    nlohmann::json ports = nlohmann::json::array();
    for (int i = pick(4); i > 0; --i) {
      nlohmann::json p = {
          {"name", maybe(absl::StrCat("p", pick(3)))},
          {"port", maybe(pick(3) == 0 ? nlohmann::json(70000) : nlohmann::json(8000 + pick(100)))},
          {"protocol", maybe(pick(2) == 0 ? "UDP" : "")}};
      if (pick(4) == 0) p.erase("protocol");
      ports.push_back(maybe(p));
    }
    nlohmann::json endpoints = nlohmann::json::array();
    for (int i = pick(6); i > 0; --i) {
      nlohmann::json addresses = nlohmann::json::array();
      for (int a = pick(3); a > 0; --a)
        addresses.push_back(maybe(absl::StrCat("10.0.0.", pick(9))));
      nlohmann::json conditions = nlohmann::json::object();
      for (const char* c : {"ready", "serving", "terminating"}) {
        if (pick(4) != 0) conditions[c] = maybe(pick(2) == 0);
      }
      nlohmann::json e = {{"addresses", maybe(addresses)},
                          {"conditions", maybe(conditions)},
                          {"targetRef", maybe({{"kind", "Pod"}, {"name", maybe("pod")}})},
                          {"unknown", junk()}};
      for (const char* f : {"hostname", "nodeName", "zone"}) {
        if (pick(2) == 0) e[f] = maybe(f);
      }
      if (pick(2) == 0) {
        nlohmann::json for_zones = nlohmann::json::array();
        for (int z = pick(3); z > 0; --z) {
          for_zones.push_back(maybe({{"name", maybe(pick(4) == 0 ? "" : "z1")}}));
        }
        e["hints"] = maybe({{"forZones", maybe(for_zones)}, {"forNodes", junk()}});
      }
      endpoints.push_back(maybe(e));
    }
    nlohmann::json object = {
        {"metadata", maybe({{"name", maybe("web-abc")},
                            {"resourceVersion", maybe(absl::StrCat(pick(1000)))},
                            {"labels", {{"kubernetes.io/service-name", "web"}}}})},
        {"addressType", "IPv4"},
        {"ports", maybe(ports)},
        {"endpoints", maybe(endpoints)}};
    if (pick(5) == 0) object.erase(pick(2) == 0 ? "ports" : "endpoints");
    const char* types[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR", "ODD"};
    nlohmann::json event = {{"type", pick(8) == 0 ? junk() : nlohmann::json(types[pick(6)])},
                            {"object", pick(10) == 0 ? junk() : object}};
    std::string line = event.dump();
    // Repeated keys (the tree keeps the last), and lines cut short.
    if (pick(8) == 0) {
      for (const char* k :
           {"\"conditions\":{", "\"ports\":[", "\"name\":", "\"type\":", "\"forZones\":["}) {
        const size_t at = line.find(k);
        if (at != std::string::npos && pick(2) == 0) {
          const bool list = k[1] == 'p' || k[1] == 'f';
          line.insert(at, absl::StrCat(k, list ? "]," : k[1] == 'c' ? "}," : "\"x\","));
          break;
        }
      }
    }
    if (pick(10) == 0) line.resize(static_cast<size_t>(pick(static_cast<int>(line.size()) + 1)));
    SCOPED_TRACE(line);
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    absl::StatusOr<WatchEvent> tree =
        parsed.is_discarded() ? absl::StatusOr<WatchEvent>(ParseJson(line).status())
                              : DecodeWatchEventTree(EndpointSource::kEndpointSlices, parsed);
    std::optional<WatchEvent> fast = DecodeSliceWatchEventFast(line);
    if (fast.has_value()) {
      ++taken;
      ASSERT_TRUE(tree.ok()) << tree.status();
      EXPECT_EQ(Describe(*fast), Describe(tree));
    }
    EXPECT_EQ(Describe(DecodeWatchEvent(EndpointSource::kEndpointSlices, line)), Describe(tree));
    if (HasFailure()) return;
  }
  EXPECT_GT(taken, 300);  // the streaming path is not just always declining
}

TEST(K8sJsonTest, StreamingSliceDecoderTakesARealSliceEvent) {
  const std::string line =
      R"({"type":"MODIFIED","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1",)"
      R"("metadata":{"name":"web-x1","namespace":"demo","resourceVersion":"42",)"
      R"("labels":{"kubernetes.io/service-name":"web"},"managedFields":[{"manager":"m"}]},)"
      R"("addressType":"IPv4","endpoints":[{"addresses":["10.0.0.7"],)"
      R"("conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"n1",)"
      R"("targetRef":{"kind":"Pod","name":"web-0","namespace":"demo"},"zone":"z1",)"
      R"("hints":{"forZones":[{"name":"z1"},{"name":"z2"}]}}],)"
      R"("ports":[{"name":"grpc","port":8080,"protocol":"TCP"}]}})";
  std::optional<WatchEvent> fast = DecodeSliceWatchEventFast(line);
  ASSERT_TRUE(fast.has_value());
  EXPECT_EQ(fast->type, WatchEvent::Type::kModified);
  EXPECT_EQ(fast->resource_version, "42");
  ASSERT_EQ(fast->object.endpoints.size(), 1u);
  EXPECT_EQ(fast->object.endpoints[0].pod_name, "web-0");
  EXPECT_THAT(fast->object.endpoints[0].for_zones, ::testing::ElementsAre("z1", "z2"));
  ASSERT_EQ(fast->object.endpoints[0].ports.size(), 1u);
  EXPECT_EQ(fast->object.endpoints[0].ports[0].port, 8080);
  EXPECT_EQ(Describe(*fast), Describe(DecodeWatchEventTree(EndpointSource::kEndpointSlices,
                                                           nlohmann::json::parse(line))));
}

TEST(K8sJsonTest, GarbageIsAnErrorNotACrash) {
  for (const char* line : {"", "{", "null", "[]", "\"x\"", R"({"type":"WEIRD","object":{}})",
                           R"({"type":"ADDED","object":7})", R"({"type":7})",
                           "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\xff\"}}}"}) {
    auto e = DecodeWatchEvent(EndpointSource::kEndpointSlices, line);
    if (e.ok()) continue;  // some are decodable but harmless
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInternal) << line;
  }
  EXPECT_FALSE(DecodeEndpointList(EndpointSource::kEndpointSlices, "<html>").ok());
  EXPECT_FALSE(DecodeEndpointList(EndpointSource::kEndpointSlices, R"({"items":{}})").ok());
  EXPECT_TRUE(DecodeEndpointList(EndpointSource::kEndpointSlices, R"({"items":null})").ok());
}

TEST(K8sJsonTest, HttpErrorsKeepTheServersWords) {
  absl::Status s = StatusFromHttp(
      403,
      R"({"kind":"Status","status":"Failure","message":"endpointslices.discovery.k8s.io is forbidden: nope","reason":"Forbidden","code":403})",
      "", "listing EndpointSlices of Service demo/web");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "kube-grpc: listing EndpointSlices of Service demo/web: HTTP 403 Forbidden: "
            "endpointslices.discovery.k8s.io is forbidden: nope");
  s = StatusFromHttp(502, "<html>\n<body>Bad Gateway</body>\n</html>", "", "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("<html> <body>Bad Gateway"));
  s = StatusFromHttp(429, "Too many requests, please try again later.\n", "3", "x");
  EXPECT_EQ(RetryAfter(s), absl::Seconds(3));
  s = StatusFromHttp(500, std::string(10000, 'x'), "soon", "x");
  EXPECT_LT(s.message().size(), 300u);
  EXPECT_FALSE(RetryAfter(s).has_value());
}

}  // namespace
}  // namespace kubegrpc::internal
