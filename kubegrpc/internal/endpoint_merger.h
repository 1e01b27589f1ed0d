// File: kubegrpc/internal/endpoint_merger.h
// -----------------------------------------------------------------------------
// EndpointMerger: discovery's incremental merge of a Service port's endpoints
// across its EndpointSlices (or Endpoints objects). Each slice's endpoints are
// kept as candidates per address:port; a slice that changes touches only its
// own candidates, and TakeChanges() reports only the keys whose merged
// endpoint differs from what was published, so the cost of an event follows
// the size of the slice, not of the Service.
//
// Merge rule (the same as EndpointSet::Create over every slice's endpoints in
// slice-name order): of the candidates for one address:port, the one with the
// best conditions (ready, then serving) wins; among equals, the one of the
// first slice by name, then the first in its slice.
//
// Thread-safety: none; discovery's loop thread owns it.

#ifndef KUBEGRPC_INTERNAL_ENDPOINT_MERGER_H_
#define KUBEGRPC_INTERNAL_ENDPOINT_MERGER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "kubegrpc/endpoint_set.h"

namespace kubegrpc::internal {

class EndpointMerger {
 public:
  // Slice `name` now holds `endpoints` (in its order; ports already mapped).
  // O(size of the slice, old and new).
  void SetSlice(const std::string& name, std::vector<Endpoint> endpoints);
  // Slice `name` is gone (nothing if it was not there).
  void RemoveSlice(const std::string& name);
  void Clear();
  std::vector<std::string> SliceNames() const;
  size_t endpoint_count() const { return candidates_.size(); }

  // The changes to `published` (the set published last; null: none yet) that
  // bring it to the merged view: one per key touched since the last call whose
  // merged endpoint differs from `published`'s, sorted by key.
  std::vector<EndpointChange> TakeChanges(const EndpointSet* published);

 private:
  using Key = std::pair<std::string, int>;  // address, port
  struct Candidate {
    const std::string* slice;  // the key in slices_
    uint32_t position;
    Endpoint endpoint;
  };
  void Add(const std::string* slice, uint32_t position, Endpoint endpoint);
  void Remove(const Key& key, const std::string* slice, uint32_t position);
  Candidate* FindCandidate(const Key& key, const std::string* slice, uint32_t position);

  absl::flat_hash_map<Key, std::vector<Candidate>> candidates_;
  std::map<std::string, std::vector<Key>> slices_;  // each slice's keys, by position
  absl::flat_hash_set<Key> touched_;
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_ENDPOINT_MERGER_H_
