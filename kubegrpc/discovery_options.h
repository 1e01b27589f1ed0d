// File: kubegrpc/discovery_options.h
// -----------------------------------------------------------------------------
// How ServiceDiscovery follows a Service: watch or poll, resync period, the
// watchdog of a silent watch stream, and the backoff after failures.

#ifndef KUBEGRPC_DISCOVERY_OPTIONS_H_
#define KUBEGRPC_DISCOVERY_OPTIONS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "kubegrpc/clock.h"

namespace kubegrpc {

// Exponential backoff with jitter: gRPC's connection-backoff shape (1 s initial,
// x1.6, +-20 % jitter) with client-go's reflector cap of 30 s.
struct BackoffOptions {
  absl::Duration initial = absl::Seconds(1);
  double multiplier = 1.6;
  double jitter = 0.2;
  absl::Duration max = absl::Seconds(30);
};

struct DiscoveryOptions {
  // Full relist period; zero: never (watch only).
  absl::Duration resync_interval = absl::Minutes(5);
  // Watch at all? false: poll by relisting every resync_interval (the original
  // package's design; for comparisons).
  bool watch = true;
  // One watch stream's server-side lifetime is drawn from [t, 2t).
  absl::Duration watch_timeout = absl::Minutes(5);
  // The watchdog: a watch stream that sends nothing (no event, no bookmark) for
  // this long has stalled (a dead proxy, a half-open connection); it is dropped
  // and re-established from the last resourceVersion. Real API servers send a
  // bookmark about once a minute to watches that ask for them, as this one does.
  absl::Duration watch_idle_timeout = absl::Seconds(150);
  // A watch that ends sooner than this without any event counts as a failure.
  absl::Duration min_healthy_watch = absl::Seconds(1);
  BackoffOptions backoff;
  Clock* clock = nullptr;  // default RealClock()
  uint64_t seed = 0;       // default: from the Service's name
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_DISCOVERY_OPTIONS_H_
