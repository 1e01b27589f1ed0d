// File: kubegrpc/internal/health_checker.h
// -----------------------------------------------------------------------------
// HealthChecker: runs a pool's health checks (grpc.health.v1 Check or the
// caller's own check) and reports each result through a callback; the pool
// decides what a result means for its picker.
//
//   HealthChecker checker(clock, /*threads=*/true,
//       [&pool](PoolEndpoint* e, bool healthy) { pool.SetHealthy(e, healthy); });
//   checker.SetOptions(options.health);
//   checker.Check(due);          // starts the checks of `due`
//   checker.ReportOverdue();     // custom checks past their deadline count as failed
//
// - grpc.health.v1: asynchronous calls; answers arrive on gRPC's threads. A
//   server without the health service (UNIMPLEMENTED) counts as healthy.
// - Custom checks: with `threads`, each runs on a thread of its own, at most one
//   per endpoint; a check past its deadline is reported unhealthy by
//   ReportOverdue() without waiting for it, and an answer after the deadline
//   counts as a failure. Without threads (virtual time) checks run inline in
//   Check(). A check that throws counts as failed.
//
// Thread-safety: thread-safe. `report` is called without any of the checker's
// locks held (custom-check threads hold only the lock that tells them whether
// the checker is still there), and never after Shutdown() has returned.

#ifndef KUBEGRPC_INTERNAL_HEALTH_CHECKER_H_
#define KUBEGRPC_INTERNAL_HEALTH_CHECKER_H_

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/clock.h"
#include "kubegrpc/picker.h"
#include "kubegrpc/pool_options.h"

namespace kubegrpc::internal {

class HealthChecker {
 public:
  using Report = std::function<void(PoolEndpoint* endpoint, bool healthy)>;

  HealthChecker(Clock* clock, bool threads, Report report);
  ~HealthChecker();  // Shutdown()s
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void SetOptions(HealthCheckOptions options) ABSL_LOCKS_EXCLUDED(mu_);
  HealthCheckOptions options() const ABSL_LOCKS_EXCLUDED(mu_);

  // Starts a check of each of `due` (an endpoint whose last custom check is
  // still running is skipped). Does nothing when the mode is kNone.
  void Check(const std::vector<std::shared_ptr<PoolEndpoint>>& due) ABSL_LOCKS_EXCLUDED(mu_);
  // Reports, once each, the custom checks still running past their deadline.
  void ReportOverdue() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for health-check answers in flight (each has a deadline) and for
  // custom checks at most their timeout, then abandons those: from here on
  // nothing is reported and nothing new starts.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Running {
    absl::Time deadline;
    bool overdue_reported = false;
  };
  // Shared with custom-check threads, which may outlive the checker: they
  // report through `checker` only while it is set.
  struct Threads {
    absl::Mutex mu;
    HealthChecker* checker ABSL_GUARDED_BY(mu) = nullptr;
    int running ABSL_GUARDED_BY(mu) = 0;
  };

  void CheckCustom(const HealthCheckOptions& options,
                   const std::vector<std::shared_ptr<PoolEndpoint>>& due, absl::Time deadline);
  void CheckGrpc(const HealthCheckOptions& options,
                 const std::vector<std::shared_ptr<PoolEndpoint>>& due, absl::Time deadline);
  // The end of a custom check that ran on its own thread.
  void FinishThreaded(PoolEndpoint* endpoint, bool healthy) ABSL_LOCKS_EXCLUDED(mu_);
  // The end of an asynchronous grpc.health.v1 check.
  void FinishAsync(PoolEndpoint* endpoint, bool healthy) ABSL_LOCKS_EXCLUDED(mu_);

  Clock* const clock_;
  const bool threads_;
  const Report report_;
  const std::shared_ptr<Threads> shared_ = std::make_shared<Threads>();

  mutable absl::Mutex mu_;
  HealthCheckOptions options_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // Custom checks running on their own threads, by endpoint.
  std::map<PoolEndpoint*, Running> running_ ABSL_GUARDED_BY(mu_);
  int outstanding_async_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_HEALTH_CHECKER_H_
