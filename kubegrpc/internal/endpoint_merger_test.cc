#include "kubegrpc/internal/endpoint_merger.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kubegrpc::internal {
namespace {

Endpoint E(int ip, bool ready, bool serving = true, std::string pod = "") {
  Endpoint e;
  e.address = "10.0." + std::to_string(ip / 256) + "." + std::to_string(ip % 256);
  e.port = 8080;
  e.ready = ready;
  e.serving = serving;
  e.pod_name = std::move(pod);
  return e;
}

// Applies the merger's changes to the set published before and checks the
// result against EndpointSet::Create over every slice in name order (the
// merge rule discovery had before it was incremental).
class MergerCheck {
 public:
  void Set(const std::string& name, std::vector<Endpoint> endpoints) {
    slices_[name] = endpoints;
    merger_.SetSlice(name, std::move(endpoints));
  }
  void Remove(const std::string& name) {
    slices_.erase(name);
    merger_.RemoveSlice(name);
  }
  void Check(const std::string& where) {
    std::vector<Endpoint> all;
    for (const auto& [name, endpoints] : slices_)
      all.insert(all.end(), endpoints.begin(), endpoints.end());
    std::shared_ptr<const EndpointSet> want = EndpointSet::Create(all);
    std::vector<EndpointChange> changes = merger_.TakeChanges(published_.get());
    if (published_ == nullptr) published_ = EndpointSet::Create({});
    EndpointSet::Next next = published_->With(changes);
    if (next.set != nullptr) published_ = next.set;
    ASSERT_EQ(published_->all().ToVector(), want->all().ToVector()) << where;
    EXPECT_EQ(merger_.endpoint_count(), want->all().size()) << where;
    // Nothing is left to report.
    EXPECT_TRUE(merger_.TakeChanges(published_.get()).empty()) << where;
  }

 private:
  std::map<std::string, std::vector<Endpoint>> slices_;
  EndpointMerger merger_;
  std::shared_ptr<const EndpointSet> published_;
};

TEST(EndpointMergerTest, DuplicateAcrossSlicesKeepsTheBestThenTheFirstSlice) {
  MergerCheck m;
  m.Set("b", {E(1, true, true, "from-b"), E(2, false)});
  m.Set("a", {E(1, true, true, "from-a"), E(2, true)});
  m.Check("both");
  m.Set("a", {E(1, false, true, "from-a"), E(2, true)});  // a's copy no longer the best
  m.Check("a not ready");
  m.Remove("b");
  m.Check("b gone");
  m.Set("a", {});
  m.Check("a empty");
}

TEST(EndpointMergerTest, RandomSlicesMatchAFullMerge) {
  std::mt19937 rng(7);
  MergerCheck m;
  const std::vector<std::string> names = {"s0", "s1", "s2", "s3", "s4"};
  for (int step = 0; step < 400; ++step) {
    const std::string& name = names[rng() % names.size()];
    if (rng() % 8 == 0) {
      m.Remove(name);
    } else {
      std::vector<Endpoint> endpoints;
      const int n = static_cast<int>(rng() % 30);
      for (int i = 0; i < n; ++i) {
        // A small address space: many duplicates across and within slices.
        endpoints.push_back(E(static_cast<int>(rng() % 60), rng() % 3 != 0, rng() % 2 == 0,
                              "p" + std::to_string(rng() % 3)));
      }
      m.Set(name, std::move(endpoints));
    }
    m.Check("step " + std::to_string(step));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace kubegrpc::internal
