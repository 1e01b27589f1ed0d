// Server-side printing: the Accept header, the columns and cells kubectl shows.

#include "fakek8s/table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

const absl::Time kNow = absl::FromUnixSeconds(1767225600 + 3725);  // 1h2m5s after creation

TEST(TableTest, AcceptHeaders) {
  EXPECT_EQ(ParseAccept("application/json").rendering, Rendering::kJson);
  EXPECT_EQ(ParseAccept("").rendering, Rendering::kJson);
  // What kubectl get sends.
  RenderAs as = ParseAccept(
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta."
      "k8s.io,application/json");
  EXPECT_EQ(as.rendering, Rendering::kTable);
  EXPECT_EQ(as.version, "v1");
  EXPECT_EQ(ParseAccept("application/json;as=Table;v=v9;g=meta.k8s.io,application/json").rendering,
            Rendering::kJson);
  EXPECT_EQ(
      ParseAccept("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").rendering,
      Rendering::kPartialMetadata);
}

TEST(TableTest, HumanDurations) {
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(HumanDuration(absl::Minutes(25)), "25m");
  EXPECT_EQ(HumanDuration(absl::Minutes(303)), "5h3m");
  EXPECT_EQ(HumanDuration(absl::Hours(30)), "30h");
  EXPECT_EQ(HumanDuration(absl::Hours(76)), "3d4h");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 120)), "120d");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 365 * 3)), "3y");
  EXPECT_EQ(HumanDuration(-absl::Seconds(5)), "<invalid>");
}

json Row(const json& table, size_t i = 0) { return table["rows"][i]["cells"]; }

TEST(TableTest, PodsShowReadyStatusRestartsIpAndNode) {
  json pod = {
      {"metadata", {{"name", "web-0"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
      {"spec",
       {{"containers", json::array({{{"name", "a"}}, {{"name", "b"}}})}, {"nodeName", "node-1"}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", "127.0.10.1"},
        {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})},
        {"containerStatuses",
         json::array({{{"name", "a"}, {"ready", true}, {"restartCount", 2}},
                      {{"name", "b"}, {"ready", false}, {"restartCount", 1}}})}}}};
  RenderAs as{Rendering::kTable, "v1"};
  json table = ToTable(Info(Resource::kPods), {pod}, {{"resourceVersion", "7"}}, as, {.now = kNow});
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(table["metadata"]["resourceVersion"], "7");
  std::vector<std::string> names;
  for (const json& c : table["columnDefinitions"]) names.push_back(c["name"]);
  EXPECT_THAT(names, ::testing::ElementsAre("Name", "Ready", "Status", "Restarts", "Age", "IP",
                                            "Node", "Nominated Node", "Readiness Gates"));
  EXPECT_EQ(table["columnDefinitions"][5]["priority"], 1);  // -o wide
  EXPECT_EQ(Row(table), json({"web-0", "1/2", "Running", "3", "62m", "127.0.10.1", "node-1",
                              "<none>", "<none>"}));
  EXPECT_EQ(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");

  // Without container statuses (fakek8s runs nothing) a Ready pod is all ready;
  // a deleting one is Terminating.
  pod["status"].erase("containerStatuses");
  pod["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z";
  table = ToTable(Info(Resource::kPods), {pod}, {}, as, {.include_object = "None", .now = kNow});
  EXPECT_EQ(Row(table)[1], "2/2");
  EXPECT_EQ(Row(table)[2], "Terminating");
  EXPECT_FALSE(table["rows"][0].contains("object"));
}

TEST(TableTest, ServicesSlicesAndEvents) {
  RenderAs as{Rendering::kTable, "v1"};
  json svc = {{"metadata", {{"name", "web"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
              {"spec",
               {{"type", "NodePort"},
                {"clusterIP", "10.96.3.4"},
                {"selector", {{"app", "web"}}},
                {"ports", json::array({{{"port", 80}, {"nodePort", 30080}, {"protocol", "TCP"}},
                                       {{"port", 9100}, {"protocol", "UDP"}}})}}}};
  EXPECT_EQ(
      Row(ToTable(Info(Resource::kServices), {svc}, {}, as, {.now = kNow})),
      json({"web", "NodePort", "10.96.3.4", "<none>", "80:30080/TCP,9100/UDP", "62m", "app=web"}));
  json slice = {{"metadata", {{"name", "web-abc"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
                {"addressType", "IPv4"},
                {"ports", json::array({{{"port", 8080}}})},
                {"endpoints", json::array()}};
  for (int i = 1; i <= 5; ++i) {
    slice["endpoints"].push_back({{"addresses", {"127.0.10." + std::to_string(i)}}});
  }
  EXPECT_EQ(
      Row(ToTable(Info(Resource::kEndpointSlices), {slice}, {}, as, {.now = kNow})),
      json({"web-abc", "IPv4", "8080", "127.0.10.1,127.0.10.2,127.0.10.3 + 2 more...", "62m"}));
  json event = {{"metadata", {{"name", "web-0.1"}}},
                {"involvedObject", {{"kind", "Pod"}, {"name", "web-0"}}},
                {"reason", "Started"},
                {"message", "Started container web"},
                {"type", "Normal"},
                {"source", {{"component", "kubelet"}}},
                {"firstTimestamp", "2026-01-01T00:00:00Z"},
                {"lastTimestamp", "2026-01-01T01:02:00Z"},
                {"count", 3}};
  EXPECT_EQ(Row(ToTable(Info(Resource::kEvents), {event}, {}, as, {.now = kNow})),
            json({"5s", "Normal", "Started", "pod/web-0", "", "kubelet", "Started container web",
                  "62m", "3", "web-0.1"}));
}

}  // namespace
}  // namespace fakek8s
