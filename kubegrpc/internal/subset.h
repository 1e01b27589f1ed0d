// File: kubegrpc/internal/subset.h
// -----------------------------------------------------------------------------
// Deterministic subsetting for pools larger than a client should hold: the
// endpoints with the highest rendezvous (highest-random-weight) scores for a
// client key. The same key keeps the same subset as endpoints come and go (an
// endpoint's score does not depend on the others), and different keys spread
// evenly over the endpoints. Also: how many descriptors the process may still
// open, so that a pool never exhausts RLIMIT_NOFILE.
// Thread-safe (functions).

#ifndef KUBEGRPC_INTERNAL_SUBSET_H_
#define KUBEGRPC_INTERNAL_SUBSET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kubegrpc/endpoint_set.h"

namespace kubegrpc::internal {

// A stable 64-bit score of (key, host:port): FNV-1a with a splitmix finish.
uint64_t RendezvousScore(const std::string& key, const std::string& host_port);
// The `limit` endpoints of `endpoints` with the highest scores for `key` (all
// of them if there are no more than `limit`), in no particular order.
std::vector<const Endpoint*> RendezvousSubset(const EndpointList& endpoints, const std::string& key,
                                              size_t limit);
// RLIMIT_NOFILE's soft limit minus the descriptors open now; nullopt if unknown.
std::optional<int64_t> FreeDescriptors();
// The default client key: the host name (in a pod, the pod's name).
std::string DefaultSubsetKey();

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_SUBSET_H_
