// Events narrate pod lifecycle changes and reported faults; repeats aggregate;
// the number kept is bounded; events.k8s.io/v1 is the same objects converted.

#include "fakek8s/events.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakek8s/conversion.h"
#include "fakek8s/object_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using ::testing::ElementsAre;

json Pod(const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", "demo"}}},
          {"spec", {{"containers", json::array({{{"name", "web"}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

class EventsTest : public ::testing::Test {
 protected:
  EventsTest() : recorder_(&store_, Options()) {
    EXPECT_TRUE(store_.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
    recorder_.WatchPods();
  }
  static EventRecorder::Options Options() {
    EventRecorder::Options options;
    options.max_events = 8;
    options.now = [] { return absl::FromUnixSeconds(1767225600); };
    return options;
  }
  // "Reason: message (xN)" per event, oldest first.
  std::vector<std::string> Narration() {
    std::vector<std::string> out;
    for (const json& e : store_.List(Resource::kEvents, "demo").items) {
      std::string line =
          absl::StrCat(e["reason"].get<std::string>(), ": ", e["message"].get<std::string>());
      if (e["count"] != 1) absl::StrAppend(&line, " (x", e["count"].dump(), ")");
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  void Status(const std::string& pod, const std::string& phase, const std::string& ready,
              int restarts = 0) {
    ASSERT_TRUE(
        store_
            .Mutate(
                Resource::kPods, "demo", pod,
                [&](json& p) {
                  p["status"]["phase"] = phase;
                  p["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", ready}}});
                  p["status"]["containerStatuses"] =
                      json::array({{{"name", "web"}, {"restartCount", restarts}}});
                  return absl::OkStatus();
                })
            .ok());
  }
  ObjectStore store_;
  EventRecorder recorder_;
};

TEST_F(EventsTest, APodsLifeIsNarrated) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-0")).ok());
  Status("web-0", "Running", "True");
  Status("web-0", "Running", "False");    // readiness failed
  Status("web-0", "Running", "True", 1);  // restarted
  ASSERT_TRUE(store_
                  .Mutate(Resource::kPods, "demo", "web-0",
                          [](json& p) {
                            p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z";
                            return absl::OkStatus();
                          })
                  .ok());
  EXPECT_THAT(
      Narration(),
      ElementsAre("Killing: Stopping container web",
                  "Scheduled: Successfully assigned demo/web-0 (fakek8s runs no nodes)",
                  "Started: Started container web (x2)", "Unhealthy: Readiness probe failed"));
  // Each names its pod, and the container where there is one.
  for (const json& e : store_.List(Resource::kEvents, "demo").items) {
    EXPECT_EQ(e["involvedObject"]["kind"], "Pod");
    EXPECT_EQ(e["involvedObject"]["name"], "web-0");
    EXPECT_FALSE(e["involvedObject"]["uid"].get<std::string>().empty());
    if (e["reason"] == "Started") {
      EXPECT_EQ(e["involvedObject"]["fieldPath"], "spec.containers{web}");
      EXPECT_EQ(e["source"]["component"], "kubelet");
    }
  }
}

TEST_F(EventsTest, ReportedFaultsAndTheBound) {
  for (int i = 0; i < 12; ++i) {
    EventRecord r;
    r.involved = {{"kind", "Namespace"}, {"name", "demo"}, {"namespace", "demo"}};
    r.type = "Warning";
    r.reason = "FaultInjected";
    r.message = absl::StrCat("fault ", i);
    recorder_.Record(r);
  }
  std::vector<std::string> kept = Narration();
  ASSERT_EQ(kept.size(), 8u);  // the oldest four went
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "FaultInjected: fault 0"), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "FaultInjected: fault 11"), 1);
}

TEST(EventConversionTest, TheEventsApiShapeRoundTrips) {
  const ResourceInfo& v1 = Info(Resource::kEventsV1);
  json core = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", "e"}, {"namespace", "demo"}}},
               {"involvedObject", {{"kind", "Pod"}, {"name", "web-0"}}},
               {"message", "Started container web"},
               {"reason", "Started"},
               {"source", {{"component", "kubelet"}}},
               {"firstTimestamp", "2026-01-01T00:00:00Z"},
               {"lastTimestamp", "2026-01-01T00:00:05Z"},
               {"count", 2},
               {"reportingComponent", "kubelet"},
               {"type", "Normal"}};
  json served = ToServed(v1, core);
  EXPECT_EQ(served["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(served["regarding"]["name"], "web-0");
  EXPECT_EQ(served["note"], "Started container web");
  EXPECT_EQ(served["deprecatedCount"], 2);
  EXPECT_EQ(served["reportingController"], "kubelet");
  EXPECT_EQ(served["eventTime"], "2026-01-01T00:00:00.000000Z");
  EXPECT_FALSE(served.contains("involvedObject"));
  json back = ToStored(v1, served);
  back.erase("eventTime");
  EXPECT_EQ(back, core);
  EXPECT_EQ(StoredFieldSelector(v1, "regarding.name=web-0,reportingController=kubelet"),
            "involvedObject.name=web-0,reportingComponent=kubelet");
  EXPECT_EQ(ToServed(Info(Resource::kEvents), core), core);
}

}  // namespace
}  // namespace fakek8s
