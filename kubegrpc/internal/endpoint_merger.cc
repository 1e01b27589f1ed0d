#include "kubegrpc/internal/endpoint_merger.h"

#include <algorithm>

namespace kubegrpc::internal {
namespace {

int Rank(const Endpoint& e) { return (e.ready ? 2 : 0) + (e.serving ? 1 : 0); }

}  // namespace

EndpointMerger::Candidate* EndpointMerger::FindCandidate(const Key& key, const std::string* slice,
                                                         uint32_t position) {
  auto it = candidates_.find(key);
  if (it == candidates_.end()) return nullptr;
  for (Candidate& c : it->second) {
    if (c.slice == slice && c.position == position) return &c;
  }
  return nullptr;
}

void EndpointMerger::Add(const std::string* slice, uint32_t position, Endpoint endpoint) {
  Key key(endpoint.address, endpoint.port);
  touched_.insert(key);
  candidates_[std::move(key)].push_back({slice, position, std::move(endpoint)});
}

void EndpointMerger::Remove(const Key& key, const std::string* slice, uint32_t position) {
  auto it = candidates_.find(key);
  if (it == candidates_.end()) return;
  std::vector<Candidate>& list = it->second;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].slice == slice && list[i].position == position) {
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  touched_.insert(key);
  if (list.empty()) candidates_.erase(it);
}

void EndpointMerger::SetSlice(const std::string& name, std::vector<Endpoint> endpoints) {
  auto it = slices_.try_emplace(name).first;
  const std::string* slice = &it->first;
  std::vector<Key>& keys = it->second;
  std::vector<Key> now;
  now.reserve(endpoints.size());
  for (const Endpoint& e : endpoints) now.emplace_back(e.address, e.port);
  const size_t n = std::max(keys.size(), endpoints.size());
  for (size_t p = 0; p < n; ++p) {
    const uint32_t position = static_cast<uint32_t>(p);
    const bool had = p < keys.size();
    const bool has = p < now.size();
    if (had && has && keys[p] == now[p]) {
      // The same address:port at the same place: update it in place.
      Candidate* c = FindCandidate(keys[p], slice, position);
      if (c != nullptr && c->endpoint == endpoints[p]) continue;
      if (c != nullptr) {
        c->endpoint = std::move(endpoints[p]);
        touched_.insert(keys[p]);
        continue;
      }
    }
    if (had) Remove(keys[p], slice, position);
    if (has) Add(slice, position, std::move(endpoints[p]));
  }
  keys = std::move(now);
}

void EndpointMerger::RemoveSlice(const std::string& name) {
  auto it = slices_.find(name);
  if (it == slices_.end()) return;
  for (size_t p = 0; p < it->second.size(); ++p) {
    Remove(it->second[p], &it->first, static_cast<uint32_t>(p));
  }
  slices_.erase(it);
}

void EndpointMerger::Clear() {
  for (auto& [key, list] : candidates_) touched_.insert(key);
  candidates_.clear();
  slices_.clear();
}

std::vector<std::string> EndpointMerger::SliceNames() const {
  std::vector<std::string> names;
  names.reserve(slices_.size());
  for (const auto& [name, keys] : slices_) names.push_back(name);
  return names;
}

std::vector<EndpointChange> EndpointMerger::TakeChanges(const EndpointSet* published) {
  std::vector<Key> keys(touched_.begin(), touched_.end());
  touched_.clear();
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return CompareKey(a.first, a.second, b.first, b.second) < 0;
  });
  std::vector<EndpointChange> changes;
  for (Key& key : keys) {
    const Endpoint* best = nullptr;
    const Candidate* best_c = nullptr;
    auto it = candidates_.find(key);
    if (it != candidates_.end()) {
      for (const Candidate& c : it->second) {
        if (best_c == nullptr || Rank(c.endpoint) > Rank(*best) ||
            (Rank(c.endpoint) == Rank(*best) &&
             (*c.slice < *best_c->slice ||
              (c.slice == best_c->slice && c.position < best_c->position)))) {
          best_c = &c;
          best = &c.endpoint;
        }
      }
    }
    const Endpoint* was =
        published != nullptr ? published->all().Find(key.first, key.second) : nullptr;
    if (best == nullptr && was == nullptr) continue;
    if (best != nullptr && was != nullptr && *best == *was) continue;
    EndpointChange change;
    change.address = std::move(key.first);
    change.port = key.second;
    if (best != nullptr) change.now = *best;
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace kubegrpc::internal
