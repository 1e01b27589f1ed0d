#include "kubegrpc/endpoint_set.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kubegrpc {

std::string Endpoint::HostPort() const {
  return absl::StrContains(address, ':') ? absl::StrCat("[", address, "]:", port)
                                         : absl::StrCat(address, ":", port);
}

bool Endpoint::operator==(const Endpoint& o) const {
  return std::tie(address, port, pod_name, node_name, zone, hostname, ready, serving,
                  terminating) == std::tie(o.address, o.port, o.pod_name, o.node_name, o.zone,
                                           o.hostname, o.ready, o.serving, o.terminating);
}

std::shared_ptr<const EndpointSet> EndpointSet::Create(std::vector<Endpoint> endpoints) {
  auto rank = [](const Endpoint& e) { return (e.ready ? 2 : 0) + (e.serving ? 1 : 0); };
  // Sort positions, not the (large) endpoints; ties keep their input order.
  std::vector<uint32_t> order(endpoints.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    const Endpoint& a = endpoints[x];
    const Endpoint& b = endpoints[y];
    if (int c = a.address.compare(b.address); c != 0) return c < 0;
    if (a.port != b.port) return a.port < b.port;
    if (rank(a) != rank(b)) return rank(a) > rank(b);  // the best duplicate first
    return x < y;
  });
  std::shared_ptr<EndpointSet> set(new EndpointSet());
  set->all_.reserve(endpoints.size());
  for (uint32_t i : order) {
    Endpoint& e = endpoints[i];
    if (!set->all_.empty() && set->all_.back().address == e.address &&
        set->all_.back().port == e.port) {
      continue;
    }
    set->all_.push_back(std::move(e));
  }
  set->usable_.reserve(set->all_.size());
  for (const Endpoint& e : set->all_) {
    if (e.ready) set->usable_.push_back(e);
  }
  if (set->usable_.empty()) {
    for (const Endpoint& e : set->all_) {
      if (e.serving && e.terminating) set->usable_.push_back(e);
    }
  }
  return set;
}

EndpointDelta Diff(const EndpointSet* before, const EndpointSet& after) {
  EndpointDelta delta;
  static const std::vector<Endpoint> kNone;
  const std::vector<Endpoint>& a = before != nullptr ? before->usable() : kNone;
  const std::vector<Endpoint>& b = after.usable();
  auto less = [](const Endpoint& x, const Endpoint& y) {
    return std::tie(x.address, x.port) < std::tie(y.address, y.port);
  };
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && less(a[i], b[j]))) {
      delta.removed.push_back(a[i++]);
    } else if (i == a.size() || less(b[j], a[i])) {
      delta.added.push_back(b[j++]);
    } else {
      if (a[i] != b[j]) delta.changed.push_back(b[j]);
      ++i;
      ++j;
    }
  }
  return delta;
}

}  // namespace kubegrpc
