#include "fakek8s/object_store.h"

#include <string>
#include <thread>
#include <vector>

#include "fakek8s/api_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fakek8s {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ObjectStore::Options FixedClock() {
  ObjectStore::Options options;
  options.now = [] { return absl::FromUnixSeconds(1767225600); };  // 2026-01-01
  return options;
}

json Pod(const std::string& name, const json& labels = json::object()) {
  return {{"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", labels}}},
          {"status", {{"phase", "Running"}, {"podIP", "127.0.0.5"}}}};
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  ObjectStoreTest() : store_(FixedClock()) {
    EXPECT_TRUE(store_.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  }

  // Collects events until none arrives for a short while.
  std::vector<std::string> Drain(ObjectStore::Watch& watch) {
    std::vector<std::string> out;
    ObjectStore::WatchEvent e;
    while (watch.Next(absl::Milliseconds(50), &e) == ObjectStore::Watch::Result::kEvent) {
      out.push_back(e.type + " " + e.object["metadata"].value("name", "") + "@" +
                    e.object["metadata"].value("resourceVersion", ""));
    }
    return out;
  }

  ObjectStore store_;
};

TEST_F(ObjectStoreTest, CreateFillsMetadata) {
  absl::StatusOr<json> pod = store_.Create(Resource::kPods, Pod("web-1"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ((*pod)["kind"], "Pod");
  EXPECT_EQ((*pod)["apiVersion"], "v1");
  EXPECT_EQ((*pod)["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ((*pod)["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ((*pod)["metadata"]["resourceVersion"], store_.CurrentResourceVersion());

  absl::StatusOr<json> slice = store_.Create(
      Resource::kEndpointSlices, {{"metadata", {{"generateName", "web-"}, {"namespace", "demo"}}},
                                  {"addressType", "IPv4"},
                                  {"endpoints", nullptr}});
  ASSERT_TRUE(slice.ok());
  EXPECT_THAT((*slice)["metadata"]["name"].get<std::string>(), HasSubstr("web-"));
  EXPECT_EQ((*slice)["metadata"]["name"].get<std::string>().size(), 9u);
  EXPECT_EQ((*slice)["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_EQ((*slice)["endpoints"], json::array());  // never null
  EXPECT_EQ((*slice)["ports"], json::array());
}

TEST_F(ObjectStoreTest, CreateErrors) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("web-1")).ok());
  absl::Status dup = store_.Create(Resource::kPods, Pod("web-1")).status();
  EXPECT_EQ(HttpCode(dup), 409);
  EXPECT_EQ(dup.message(), "pods \"web-1\" already exists");

  json elsewhere = Pod("web-2");
  elsewhere["metadata"]["namespace"] = "nope";
  absl::Status missing_ns = store_.Create(Resource::kPods, elsewhere).status();
  EXPECT_EQ(HttpCode(missing_ns), 404);
  EXPECT_EQ(missing_ns.message(), "namespaces \"nope\" not found");

  absl::Status bad_name = store_.Create(Resource::kPods, Pod("Web_1")).status();
  EXPECT_EQ(HttpCode(bad_name), 422);
  EXPECT_EQ(ToStatusObject(bad_name)["reason"], "Invalid");

  EXPECT_EQ(HttpCode(store_.Create(Resource::kPods, json::array()).status()), 400);
}

TEST_F(ObjectStoreTest, UpdateBumpsVersionOnlyOnChangeAndChecksConflicts) {
  json pod = *store_.Create(Resource::kPods, Pod("web-1"));
  const std::string rv = pod["metadata"]["resourceVersion"];

  absl::StatusOr<json> same = store_.Update(Resource::kPods, pod);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)["metadata"]["resourceVersion"], rv);

  pod["status"]["phase"] = "Failed";
  absl::StatusOr<json> changed = store_.Update(Resource::kPods, pod);
  ASSERT_TRUE(changed.ok());
  EXPECT_NE((*changed)["metadata"]["resourceVersion"], rv);
  EXPECT_EQ((*changed)["metadata"]["uid"], pod["metadata"]["uid"]);

  // `pod` still carries the old resourceVersion.
  pod["status"]["phase"] = "Running";
  absl::Status conflict = store_.Update(Resource::kPods, pod).status();
  EXPECT_EQ(HttpCode(conflict), 409);
  EXPECT_EQ(ToStatusObject(conflict)["reason"], "Conflict");

  absl::StatusOr<json> mutated = store_.Mutate(Resource::kPods, "demo", "web-1", [](json& p) {
    p["status"]["phase"] = "Running";
    return absl::OkStatus();
  });
  ASSERT_TRUE(mutated.ok());
  EXPECT_EQ((*mutated)["status"]["phase"], "Running");
  EXPECT_EQ(
      HttpCode(
          store_.Mutate(Resource::kPods, "demo", "nope", [](json&) { return absl::OkStatus(); })
              .status()),
      404);
}

TEST_F(ObjectStoreTest, ListFiltersAndSorts) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("b", {{"app", "web"}})).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("a", {{"app", "web"}})).ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("c", {{"app", "db"}})).ok());
  ObjectStore::ListResult all = store_.List(Resource::kPods, "demo");
  ASSERT_EQ(all.items.size(), 3u);
  EXPECT_EQ(all.items[0]["metadata"]["name"], "a");
  EXPECT_EQ(all.resource_version, store_.CurrentResourceVersion());

  ObjectStore::ListResult web = store_.List(Resource::kPods, "", *LabelSelector::Parse("app=web"));
  EXPECT_EQ(web.items.size(), 2u);
  ObjectStore::ListResult named = store_.List(
      Resource::kPods, "demo", {}, *FieldSelector::Parse("metadata.name=c", {"metadata.name"}));
  ASSERT_EQ(named.items.size(), 1u);
  EXPECT_EQ(named.items[0]["metadata"]["name"], "c");
  EXPECT_TRUE(store_.List(Resource::kPods, "other").items.empty());
}

TEST_F(ObjectStoreTest, WatchFromZeroSendsCurrentStateThenChanges) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("a")).ok());
  auto watch = store_.StartWatch(Resource::kPods, {.namespace_ = "demo"});
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("b")).ok());
  ASSERT_TRUE(store_.Delete(Resource::kPods, "demo", "a").ok());
  const int rv = std::stoi(store_.CurrentResourceVersion());
  EXPECT_THAT(Drain(**watch),
              ElementsAre("ADDED a@" + std::to_string(rv - 2), "ADDED b@" + std::to_string(rv - 1),
                          "DELETED a@" + std::to_string(rv)));
  EXPECT_EQ((*watch)->ProgressResourceVersion(), std::to_string(rv));
}

TEST_F(ObjectStoreTest, WatchFromVersionSendsOnlyLaterChanges) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("a")).ok());
  const std::string rv = store_.CurrentResourceVersion();
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("b")).ok());
  ASSERT_TRUE(
      store_.Create(Resource::kServices, {{"metadata", {{"name", "s"}, {"namespace", "demo"}}}})
          .ok());
  auto watch = store_.StartWatch(Resource::kPods, {.from_rv = rv});
  ASSERT_TRUE(watch.ok());
  std::vector<std::string> events = Drain(**watch);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0], HasSubstr("ADDED b@"));
}

TEST_F(ObjectStoreTest, SelectorTransitionsBecomeAddedAndDeleted) {
  auto watch = store_.StartWatch(Resource::kPods, {.labels = *LabelSelector::Parse("app=web"),
                                                   .from_rv = store_.CurrentResourceVersion()});
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("a", {{"app", "db"}})).ok());
  auto relabel = [&](const std::string& app) {
    return store_.Mutate(Resource::kPods, "demo", "a", [&](json& p) {
      p["metadata"]["labels"]["app"] = app;
      return absl::OkStatus();
    });
  };
  ASSERT_TRUE(relabel("web").ok());  // starts matching
  ASSERT_TRUE(relabel("web").ok());  // no change: no event
  ASSERT_TRUE(store_
                  .Mutate(Resource::kPods, "demo", "a",
                          [](json& p) {
                            p["status"]["phase"] = "Pending";
                            return absl::OkStatus();
                          })
                  .ok());
  ASSERT_TRUE(relabel("db").ok());  // stops matching
  const int rv = std::stoi(store_.CurrentResourceVersion());
  EXPECT_THAT(Drain(**watch), ElementsAre("ADDED a@" + std::to_string(rv - 2),
                                          "MODIFIED a@" + std::to_string(rv - 1),
                                          "DELETED a@" + std::to_string(rv)));
}

TEST_F(ObjectStoreTest, TooOldVersionIsExpiredAfterHistoryLimitOrCompaction) {
  ObjectStore::Options options = FixedClock();
  options.history_limit = 3;
  ObjectStore store(options);
  ASSERT_TRUE(store.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  const std::string old_rv = store.CurrentResourceVersion();
  for (const char* name : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(store.Create(Resource::kPods, Pod(name)).ok());
  }
  auto expired = store.StartWatch(Resource::kPods, {.from_rv = old_rv});
  EXPECT_EQ(HttpCode(expired.status()), 410);
  EXPECT_THAT(expired.status().message(), HasSubstr("too old resource version: " + old_rv + " ("));
  EXPECT_EQ(ToStatusObject(expired.status())["reason"], "Expired");

  const std::string before = std::to_string(std::stoi(store.CurrentResourceVersion()) - 1);
  EXPECT_TRUE(store.StartWatch(Resource::kPods, {.from_rv = before}).ok());
  store.Compact();
  const std::string compacted_at = store.CurrentResourceVersion();
  ASSERT_TRUE(store.Create(Resource::kPods, Pod("e")).ok());
  EXPECT_EQ(HttpCode(store.StartWatch(Resource::kPods, {.from_rv = before}).status()), 410);
  // Resuming from the compaction point itself needs only later events.
  EXPECT_TRUE(store.StartWatch(Resource::kPods, {.from_rv = compacted_at}).ok());

  EXPECT_EQ(HttpCode(store.StartWatch(Resource::kPods, {.from_rv = "abc"}).status()), 400);
}

TEST_F(ObjectStoreTest, SendInitialEventsEndsWithAnnotatedBookmark) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("a")).ok());
  auto watch = store_.StartWatch(
      Resource::kPods, {.from_rv = store_.CurrentResourceVersion(), .send_initial_events = true});
  ASSERT_TRUE(watch.ok());
  ObjectStore::WatchEvent e;
  ASSERT_EQ((*watch)->Next(absl::Seconds(5), &e), ObjectStore::Watch::Result::kEvent);
  EXPECT_EQ(e.type, "ADDED");
  ASSERT_EQ((*watch)->Next(absl::Seconds(5), &e), ObjectStore::Watch::Result::kEvent);
  EXPECT_EQ(e.type, "BOOKMARK");
  EXPECT_EQ(e.object["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
  EXPECT_EQ(e.object["metadata"]["resourceVersion"], store_.CurrentResourceVersion());
}

TEST_F(ObjectStoreTest, DeletingANamespaceDeletesItsObjects) {
  ASSERT_TRUE(store_.Create(Resource::kPods, Pod("a")).ok());
  auto watch = store_.StartWatch(Resource::kPods, {.from_rv = store_.CurrentResourceVersion()});
  ASSERT_TRUE(store_.Delete(Resource::kNamespaces, "", "demo").ok());
  EXPECT_THAT(Drain(**watch), ElementsAre(HasSubstr("DELETED a@")));
  EXPECT_TRUE(store_.List(Resource::kPods, "").items.empty());
  EXPECT_EQ(HttpCode(store_.Get(Resource::kNamespaces, "", "demo").status()), 404);
}

TEST_F(ObjectStoreTest, CloseAllWatchesEndsThemAndWakesWaiters) {
  auto watch = store_.StartWatch(Resource::kPods, {.from_rv = store_.CurrentResourceVersion()});
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(store_.OpenWatchCount(), 1);
  std::thread closer([&] { store_.CloseAllWatches("restart"); });
  ObjectStore::WatchEvent e;
  EXPECT_EQ((*watch)->Next(absl::Seconds(30), &e), ObjectStore::Watch::Result::kClosed);
  closer.join();
  EXPECT_EQ((*watch)->CloseReason(), "restart");
  EXPECT_EQ(store_.OpenWatchCount(), 0);
}

TEST_F(ObjectStoreTest, SlowWatchIsClosedNotUnbounded) {
  ObjectStore::Options options = FixedClock();
  options.max_watch_backlog = 2;
  ObjectStore store(options);
  ASSERT_TRUE(store.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  auto watch = store.StartWatch(Resource::kPods, {.from_rv = store.CurrentResourceVersion()});
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(store.Create(Resource::kPods, Pod(name)).ok());
  }
  ObjectStore::WatchEvent e;
  EXPECT_EQ((*watch)->Next(absl::Seconds(5), &e), ObjectStore::Watch::Result::kClosed);
  EXPECT_THAT((*watch)->CloseReason(), HasSubstr("too slow"));
}

TEST_F(ObjectStoreTest, ConcurrentWritersGetDistinctVersions) {
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(
            store_.Create(Resource::kPods, Pod("p-" + std::to_string(t) + "-" + std::to_string(i)))
                .ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  ObjectStore::ListResult all = store_.List(Resource::kPods, "demo");
  ASSERT_EQ(all.items.size(), 200u);
  std::set<std::string> versions;
  for (const json& p : all.items) versions.insert(p["metadata"]["resourceVersion"]);
  EXPECT_EQ(versions.size(), 200u);
}

}  // namespace
}  // namespace fakek8s
