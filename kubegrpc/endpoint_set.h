// File: kubegrpc/endpoint_set.h
// -----------------------------------------------------------------------------
// EndpointSet: an immutable snapshot of the pods behind one Service port, as
// discovery publishes it, and EndpointDelta: what changed between two snapshots.
//
// Each Endpoint is one address:port with its pod, node, zone and the API's
// conditions (defaults applied: missing ready/serving = true, missing
// terminating = false). `usable()` are the endpoints to send calls to: the
// ready ones, or, only when none is ready, the serving ones that are
// terminating (as kube-proxy does).
//
// Versions share structure: an EndpointList is a sorted sequence of chunks of
// at most 2 x EndpointList::kChunk endpoints, and With() copies only the chunks
// a change touches (the rest are shared with the version before), so a
// one-endpoint change to a Service of n endpoints costs O(kChunk + n / kChunk)
// pointer copies, not n endpoint copies. With() also computes the delta from
// the change itself, not by comparing the two versions.
//
// Thread-safety: immutable after Create()/With(); share it as
// shared_ptr<const EndpointSet>.

#ifndef KUBEGRPC_ENDPOINT_SET_H_
#define KUBEGRPC_ENDPOINT_SET_H_

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kubegrpc {

struct Endpoint {
  std::string address;  // an IP (or DNS name for FQDN slices)
  int port = 0;
  std::string pod_name;
  std::string node_name;
  std::string zone;
  std::string hostname;
  // The EndpointSlice's hints.forZones: the zones whose clients should use
  // this endpoint (set by the API's controller for Services with
  // trafficDistribution PreferSameZone/PreferClose); empty: no hint.
  std::vector<std::string> for_zones;
  bool ready = true;
  bool serving = true;
  bool terminating = false;

  // "10.0.0.1:8080", "[fd00::1]:8080": the key of an endpoint and what to dial.
  std::string HostPort() const;
  bool operator==(const Endpoint& o) const;
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
};

// The order of endpoints in a set: by address, then port.
int CompareKey(const std::string& address_a, int port_a, const std::string& address_b, int port_b);
inline bool KeyLess(const Endpoint& a, const Endpoint& b) {
  return CompareKey(a.address, a.port, b.address, b.port) < 0;
}

// An immutable sequence of endpoints sorted by (address, port), one per key,
// whose copies share storage. Iterates like a const std::vector<Endpoint>.
class EndpointList {
 public:
  static constexpr size_t kChunk = 64;
  using value_type = Endpoint;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Endpoint;
    using difference_type = std::ptrdiff_t;
    using pointer = const Endpoint*;
    using reference = const Endpoint&;
    const_iterator() = default;
    reference operator*() const { return (*list_->chunks_[chunk_])[index_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++index_ == list_->chunks_[chunk_]->size()) {
        ++chunk_;
        index_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const {
      return chunk_ == o.chunk_ && index_ == o.index_;
    }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }

   private:
    friend class EndpointList;
    const_iterator(const EndpointList* list, size_t chunk) : list_(list), chunk_(chunk) {}
    const EndpointList* list_ = nullptr;
    size_t chunk_ = 0;
    size_t index_ = 0;
  };

  EndpointList() = default;
  // `sorted` must be sorted by key with unique keys.
  static EndpointList FromSorted(std::vector<Endpoint> sorted);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, chunks_.size()); }
  // O(log(n / kChunk)).
  const Endpoint& operator[](size_t i) const;
  const Endpoint& front() const { return chunks_.front()->front(); }
  const Endpoint& back() const { return chunks_.back()->back(); }
  // The endpoint with this key, or null. O(log n).
  const Endpoint* Find(const std::string& address, int port) const;
  std::vector<Endpoint> ToVector() const { return std::vector<Endpoint>(begin(), end()); }
  bool operator==(const EndpointList& o) const;
  bool operator!=(const EndpointList& o) const { return !(*this == o); }

  // One edit: the endpoint with this key becomes `*now`, or goes (null).
  struct Edit {
    const std::string* address;
    int port;
    const Endpoint* now;
  };
  // A copy with `edits` (sorted by key, unique keys) applied; shares every chunk
  // no edit falls in.
  EndpointList With(const std::vector<Edit>& edits) const;
  // How many chunks this list has (for tests and memory accounting).
  size_t chunk_count() const { return chunks_.size(); }

 private:
  using Chunk = std::vector<Endpoint>;
  void Push(std::vector<Endpoint>&& endpoints);
  void Finish();
  std::vector<std::shared_ptr<const Chunk>> chunks_;  // none empty
  std::vector<size_t> ends_;                          // cumulative sizes
  size_t size_ = 0;
};

// Changes to the usable endpoints, by HostPort.
struct EndpointDelta {
  std::vector<Endpoint> added;
  std::vector<Endpoint> removed;
  std::vector<Endpoint> changed;  // same HostPort, other fields differ (the new state)
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

// A change to the endpoint with key (address, port): it becomes `now`, or is
// gone (nullopt).
struct EndpointChange {
  std::string address;
  int port = 0;
  std::optional<Endpoint> now;
};

class EndpointSet {
 public:
  // Sorts by HostPort and keeps one endpoint per HostPort (the one with the
  // best conditions: ready, then serving; the first of equals).
  static std::shared_ptr<const EndpointSet> Create(std::vector<Endpoint> endpoints);

  const EndpointList& all() const { return all_; }
  const EndpointList& usable() const { return usable_; }
  size_t ready_count() const { return ready_; }
  bool operator==(const EndpointSet& o) const { return all_ == o.all_; }

  struct Next {
    std::shared_ptr<const EndpointSet> set;  // null if nothing changed
    EndpointDelta delta;                     // from this set to `set`
  };
  // This set with `changes` applied (any order; one change per key; a change
  // to what is there already is ignored). O(changes x log n + n / kChunk),
  // except when the set's first ready endpoint arrives or its last one goes
  // (usable() switches between ready and terminating endpoints): O(n).
  Next With(std::vector<EndpointChange> changes) const;

 private:
  EndpointSet() = default;
  void ComputeUsable();
  EndpointList all_;
  EndpointList usable_;
  size_t ready_ = 0;  // endpoints in all_ that are ready
};

EndpointDelta Diff(const EndpointSet* before, const EndpointSet& after);

}  // namespace kubegrpc

#endif  // KUBEGRPC_ENDPOINT_SET_H_
