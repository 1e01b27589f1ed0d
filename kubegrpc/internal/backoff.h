// File: kubegrpc/internal/backoff.h
// -----------------------------------------------------------------------------
// Exponential backoff with jitter (BackoffOptions: 1 s initial, x1.6, +-20 %
// jitter, 30 s cap by default). Reset() after a success.
// Thread-compatible; the random source is seeded, so sequences are reproducible.

#ifndef KUBEGRPC_INTERNAL_BACKOFF_H_
#define KUBEGRPC_INTERNAL_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"
#include "kubegrpc/discovery_options.h"

namespace kubegrpc::internal {

class Backoff {
 public:
  Backoff(BackoffOptions options, uint64_t seed) : options_(options), rng_(seed) { Reset(); }

  // The delay before the next attempt; each call grows the next one.
  absl::Duration Next() {
    std::uniform_real_distribution<double> jitter(-options_.jitter, options_.jitter);
    absl::Duration delay = current_ * (1.0 + jitter(rng_));
    current_ = std::min(current_ * options_.multiplier, options_.max);
    return delay;
  }
  void Reset() { current_ = options_.initial; }
  // The un-jittered delay the next call starts from.
  absl::Duration current() const { return current_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  absl::Duration current_;
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_BACKOFF_H_
