#include "kubegrpc/endpoint_set.h"

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kubegrpc {

std::string Endpoint::HostPort() const {
  return absl::StrContains(address, ':') ? absl::StrCat("[", address, "]:", port)
                                         : absl::StrCat(address, ":", port);
}

bool Endpoint::operator==(const Endpoint& o) const {
  return std::tie(address, port, pod_name, node_name, zone, hostname, for_zones, ready, serving,
                  terminating) == std::tie(o.address, o.port, o.pod_name, o.node_name, o.zone,
                                           o.hostname, o.for_zones, o.ready, o.serving,
                                           o.terminating);
}

int CompareKey(const std::string& address_a, int port_a, const std::string& address_b, int port_b) {
  if (int c = address_a.compare(address_b); c != 0) return c;
  return port_a < port_b ? -1 : (port_a > port_b ? 1 : 0);
}

// --- EndpointList ------------------------------------------------------------

EndpointList EndpointList::FromSorted(std::vector<Endpoint> sorted) {
  EndpointList out;
  for (size_t i = 0; i < sorted.size(); i += kChunk) {
    const size_t end = std::min(sorted.size(), i + kChunk);
    out.chunks_.push_back(
        std::make_shared<const Chunk>(std::make_move_iterator(sorted.begin() + i),
                                      std::make_move_iterator(sorted.begin() + end)));
  }
  out.Finish();
  return out;
}

void EndpointList::Push(std::vector<Endpoint>&& endpoints) {
  if (endpoints.empty()) return;
  // A small remainder joins the chunk before it when both fit in one, so that
  // removals do not leave a trail of tiny chunks.
  if (endpoints.size() < kChunk / 4 && !chunks_.empty() &&
      chunks_.back()->size() + endpoints.size() <= kChunk) {
    Chunk joined(*chunks_.back());
    joined.insert(joined.end(), std::make_move_iterator(endpoints.begin()),
                  std::make_move_iterator(endpoints.end()));
    chunks_.back() = std::make_shared<const Chunk>(std::move(joined));
    return;
  }
  if (endpoints.size() <= 2 * kChunk) {
    chunks_.push_back(std::make_shared<const Chunk>(std::move(endpoints)));
    return;
  }
  size_t i = 0;
  while (endpoints.size() - i > 2 * kChunk) {
    chunks_.push_back(
        std::make_shared<const Chunk>(std::make_move_iterator(endpoints.begin() + i),
                                      std::make_move_iterator(endpoints.begin() + i + kChunk)));
    i += kChunk;
  }
  chunks_.push_back(std::make_shared<const Chunk>(std::make_move_iterator(endpoints.begin() + i),
                                                  std::make_move_iterator(endpoints.end())));
}

void EndpointList::Finish() {
  ends_.resize(chunks_.size());
  size_ = 0;
  for (size_t c = 0; c < chunks_.size(); ++c) {
    size_ += chunks_[c]->size();
    ends_[c] = size_;
  }
}

const Endpoint& EndpointList::operator[](size_t i) const {
  const size_t c =
      static_cast<size_t>(std::upper_bound(ends_.begin(), ends_.end(), i) - ends_.begin());
  return (*chunks_[c])[c == 0 ? i : i - ends_[c - 1]];
}

const Endpoint* EndpointList::Find(const std::string& address, int port) const {
  // The first chunk whose last key is not below the key.
  auto chunk = std::lower_bound(
      chunks_.begin(), chunks_.end(), 0, [&](const std::shared_ptr<const Chunk>& c, int) {
        return CompareKey(c->back().address, c->back().port, address, port) < 0;
      });
  if (chunk == chunks_.end()) return nullptr;
  const Chunk& c = **chunk;
  auto it = std::lower_bound(c.begin(), c.end(), 0, [&](const Endpoint& e, int) {
    return CompareKey(e.address, e.port, address, port) < 0;
  });
  if (it == c.end() || it->address != address || it->port != port) return nullptr;
  return &*it;
}

bool EndpointList::operator==(const EndpointList& o) const {
  if (size_ != o.size_) return false;
  if (chunks_ == o.chunks_) return true;  // the same storage
  return std::equal(begin(), end(), o.begin());
}

EndpointList EndpointList::With(const std::vector<Edit>& edits) const {
  if (edits.empty()) return *this;
  EndpointList out;
  out.chunks_.reserve(chunks_.size() + 1);
  size_t e = 0;
  // Merges the chunk `chunk` (null: none) with edits [e, f).
  auto merge = [&](const Chunk* chunk, size_t f) {
    std::vector<Endpoint> merged;
    merged.reserve((chunk != nullptr ? chunk->size() : 0) + (f - e));
    size_t i = 0;
    const size_t n = chunk != nullptr ? chunk->size() : 0;
    while (i < n || e < f) {
      const int c = i == n   ? 1
                    : e == f ? -1
                             : CompareKey((*chunk)[i].address, (*chunk)[i].port, *edits[e].address,
                                          edits[e].port);
      if (c < 0) {
        merged.push_back((*chunk)[i++]);
        continue;
      }
      if (edits[e].now != nullptr) merged.push_back(*edits[e].now);
      if (c == 0) ++i;
      ++e;
    }
    out.Push(std::move(merged));
  };
  if (chunks_.empty()) merge(nullptr, edits.size());
  for (size_t c = 0; c < chunks_.size(); ++c) {
    const Chunk& chunk = *chunks_[c];
    size_t f = e;
    const bool last = c + 1 == chunks_.size();
    while (f < edits.size() && (last || CompareKey(*edits[f].address, edits[f].port,
                                                   chunk.back().address, chunk.back().port) <= 0)) {
      ++f;
    }
    if (f == e) {
      out.chunks_.push_back(chunks_[c]);  // untouched: shared
    } else {
      merge(&chunk, f);
    }
  }
  out.Finish();
  return out;
}

// --- EndpointSet -------------------------------------------------------------

namespace {

bool Usable(const Endpoint* e, bool have_ready) {
  return e != nullptr && (have_ready ? e->ready : e->serving && e->terminating);
}

}  // namespace

std::shared_ptr<const EndpointSet> EndpointSet::Create(std::vector<Endpoint> endpoints) {
  auto rank = [](const Endpoint& e) { return (e.ready ? 2 : 0) + (e.serving ? 1 : 0); };
  // Sort positions, not the (large) endpoints; ties keep their input order.
  std::vector<uint32_t> order(endpoints.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    const Endpoint& a = endpoints[x];
    const Endpoint& b = endpoints[y];
    if (int c = CompareKey(a.address, a.port, b.address, b.port); c != 0) return c < 0;
    if (rank(a) != rank(b)) return rank(a) > rank(b);  // the best duplicate first
    return x < y;
  });
  std::vector<Endpoint> all;
  all.reserve(endpoints.size());
  for (uint32_t i : order) {
    Endpoint& e = endpoints[i];
    if (!all.empty() && all.back().address == e.address && all.back().port == e.port) continue;
    all.push_back(std::move(e));
  }
  std::shared_ptr<EndpointSet> set(new EndpointSet());
  set->all_ = EndpointList::FromSorted(std::move(all));
  set->ComputeUsable();
  return set;
}

void EndpointSet::ComputeUsable() {
  ready_ = 0;
  for (const Endpoint& e : all_) ready_ += e.ready ? 1 : 0;
  std::vector<Endpoint> usable;
  usable.reserve(ready_ > 0 ? ready_ : 0);
  for (const Endpoint& e : all_) {
    if (Usable(&e, ready_ > 0)) usable.push_back(e);
  }
  usable_ = EndpointList::FromSorted(std::move(usable));
}

EndpointSet::Next EndpointSet::With(std::vector<EndpointChange> changes) const {
  for (EndpointChange& c : changes) {
    if (c.now.has_value()) {
      c.address = c.now->address;
      c.port = c.now->port;
    }
  }
  std::sort(changes.begin(), changes.end(), [](const EndpointChange& a, const EndpointChange& b) {
    return CompareKey(a.address, a.port, b.address, b.port) < 0;
  });
  struct Touched {
    const EndpointChange* change;
    const Endpoint* before;  // in this set's storage
  };
  std::vector<Touched> touched;
  std::vector<EndpointList::Edit> edits;
  size_t ready = ready_;
  for (const EndpointChange& c : changes) {
    const Endpoint* before = all_.Find(c.address, c.port);
    const Endpoint* after = c.now.has_value() ? &*c.now : nullptr;
    if (before == nullptr && after == nullptr) continue;
    if (before != nullptr && after != nullptr && *before == *after) continue;
    if (before != nullptr && before->ready) --ready;
    if (after != nullptr && after->ready) ++ready;
    touched.push_back({&c, before});
    edits.push_back({&c.address, c.port, after});
  }
  Next next;
  if (touched.empty()) return next;
  std::shared_ptr<EndpointSet> set(new EndpointSet());
  set->all_ = all_.With(edits);
  const bool had_ready = ready_ > 0;
  if (had_ready != (ready > 0)) {
    // usable() switches between the ready and the terminating endpoints.
    set->ComputeUsable();
    next.delta = Diff(this, *set);
  } else {
    set->ready_ = ready;
    std::vector<EndpointList::Edit> usable_edits;
    for (const Touched& t : touched) {
      const Endpoint* after = t.change->now.has_value() ? &*t.change->now : nullptr;
      const bool was = Usable(t.before, had_ready);
      const bool is = Usable(after, had_ready);
      if (is) {
        usable_edits.push_back({&t.change->address, t.change->port, after});
        (was ? next.delta.changed : next.delta.added).push_back(*after);
      } else if (was) {
        usable_edits.push_back({&t.change->address, t.change->port, nullptr});
        next.delta.removed.push_back(*t.before);
      }
    }
    set->usable_ = usable_.With(usable_edits);
  }
  next.set = std::move(set);
  return next;
}

EndpointDelta Diff(const EndpointSet* before, const EndpointSet& after) {
  EndpointDelta delta;
  static const EndpointList kNone;
  const EndpointList& a = before != nullptr ? before->usable() : kNone;
  const EndpointList& b = after.usable();
  auto i = a.begin(), j = b.begin();
  while (i != a.end() || j != b.end()) {
    if (j == b.end() || (i != a.end() && KeyLess(*i, *j))) {
      delta.removed.push_back(*i++);
    } else if (i == a.end() || KeyLess(*j, *i)) {
      delta.added.push_back(*j++);
    } else {
      if (*i != *j) delta.changed.push_back(*j);
      ++i;
      ++j;
    }
  }
  return delta;
}

}  // namespace kubegrpc
