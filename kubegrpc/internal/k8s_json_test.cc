#include "kubegrpc/internal/k8s_json.h"

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
