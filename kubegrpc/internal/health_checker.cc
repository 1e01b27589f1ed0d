#include "kubegrpc/internal/health_checker.h"

#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kubegrpc/internal/tsan.h"
#include "kubegrpc/proto/health.grpc.pb.h"

namespace kubegrpc::internal {
namespace {

// The caller's check; an exception counts as a failure.
bool RunUserCheck(const HealthCheckOptions& options, PoolEndpoint& endpoint, absl::Time deadline) {
  if (!options.ping) return true;
  try {
    return options.ping(endpoint, deadline).ok();
  } catch (...) {
    return false;
  }
}

}  // namespace

HealthChecker::HealthChecker(Clock* clock, bool threads, Report report)
    : clock_(clock), threads_(threads), report_(std::move(report)) {
  absl::MutexLock lock(&shared_->mu);
  shared_->checker = this;
}

HealthChecker::~HealthChecker() { Shutdown(); }

void HealthChecker::SetOptions(HealthCheckOptions options) {
  absl::MutexLock lock(&mu_);
  options_ = std::move(options);
}

HealthCheckOptions HealthChecker::options() const {
  absl::MutexLock lock(&mu_);
  return options_;
}

void HealthChecker::Check(const std::vector<std::shared_ptr<PoolEndpoint>>& due) {
  HealthCheckOptions options;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    options = options_;
  }
  const absl::Time deadline = clock_->Now() + options.timeout;
  switch (options.mode) {
    case HealthCheckOptions::Mode::kNone:
      return;
    case HealthCheckOptions::Mode::kCustom:
      CheckCustom(options, due, deadline);
      return;
    case HealthCheckOptions::Mode::kGrpcHealth:
      CheckGrpc(options, due, deadline);
      return;
  }
}

void HealthChecker::CheckCustom(const HealthCheckOptions& options,
                                const std::vector<std::shared_ptr<PoolEndpoint>>& due,
                                absl::Time deadline) {
  if (!threads_) {
    // Virtual time: inline, one endpoint at a time, under no lock.
    for (const auto& e : due) report_(e.get(), RunUserCheck(options, *e, deadline));
    return;
  }
  // Real time: a thread per check, so that a check that hangs holds up nothing.
  for (const auto& e : due) {
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return;
      if (!running_.emplace(e.get(), Running{deadline}).second) continue;  // still running
    }
    {
      absl::MutexLock lock(&shared_->mu);
      ++shared_->running;
    }
    try {
      std::thread([shared = shared_, options, e, deadline] {
        const bool ok = RunUserCheck(options, *e, deadline);
        absl::MutexLock lock(&shared->mu);
        if (shared->checker != nullptr) shared->checker->FinishThreaded(e.get(), ok);
        --shared->running;
      }).detach();
    } catch (const std::system_error&) {
      // No thread to be had (a process limit): the check counts as failed, and
      // the next interval tries again.
      {
        absl::MutexLock lock(&shared_->mu);
        --shared_->running;
      }
      {
        absl::MutexLock lock(&mu_);
        running_.erase(e.get());
      }
      report_(e.get(), false);
    }
  }
}

void HealthChecker::FinishThreaded(PoolEndpoint* endpoint, bool healthy) {
  {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(endpoint);
    if (it == running_.end()) return;
    // An answer after the deadline counts as a failure (the endpoint is too slow).
    if (clock_->Now() > it->second.deadline) healthy = false;
    running_.erase(it);
    if (shutdown_) return;
  }
  report_(endpoint, healthy);
}

void HealthChecker::ReportOverdue() {
  std::vector<PoolEndpoint*> overdue;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    const absl::Time now = clock_->Now();
    for (auto& [endpoint, running] : running_) {
      if (!running.overdue_reported && now > running.deadline) {
        running.overdue_reported = true;
        overdue.push_back(endpoint);
      }
    }
  }
  for (PoolEndpoint* e : overdue) report_(e, false);
}

void HealthChecker::CheckGrpc(const HealthCheckOptions& options,
                              const std::vector<std::shared_ptr<PoolEndpoint>>& due,
                              absl::Time deadline) {
  // Asynchronously: answers arrive on gRPC's threads.
  for (const auto& e : due) {
    if (e->channel() == nullptr) continue;
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return;
      ++outstanding_async_;
    }
    struct Call {
      std::shared_ptr<PoolEndpoint> endpoint;
      std::unique_ptr<grpc::health::v1::Health::Stub> stub;
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
    };
    auto* call = new Call;
    call->endpoint = e;
    call->stub = grpc::health::v1::Health::NewStub(e->channel());
    call->context.set_deadline(absl::ToChronoTime(deadline));
    call->request.set_service(options.service);
    TsanHandOff(call);  // the callback runs on a gRPC thread
    call->stub->async()->Check(
        &call->context, &call->request, &call->response, [this, call](grpc::Status status) {
          TsanTakeOver(call);
          // A server without the health service counts as healthy (as gRPC's
          // own client-side health checking does).
          const bool healthy =
              (status.ok() &&
               call->response.status() == grpc::health::v1::HealthCheckResponse::SERVING) ||
              status.error_code() == grpc::StatusCode::UNIMPLEMENTED;
          FinishAsync(call->endpoint.get(), healthy);
          delete call;
        });
  }
}

void HealthChecker::FinishAsync(PoolEndpoint* endpoint, bool healthy) {
  bool shutdown;
  {
    absl::MutexLock lock(&mu_);
    shutdown = shutdown_;
  }
  if (!shutdown) report_(endpoint, healthy);
  absl::MutexLock lock(&mu_);
  --outstanding_async_;
}

void HealthChecker::Shutdown() {
  absl::Duration timeout;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    timeout = options_.timeout;
    // Answers in flight report into the pool: wait for them (each has a deadline).
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_async_ == 0; };
    mu_.Await(absl::Condition(&idle));
  }
  // Custom checks still running get until their timeout, then are abandoned:
  // from here on they report nothing (their threads end when the checks return).
  Threads* threads = shared_.get();
  absl::MutexLock lock(&threads->mu);
  auto done = [threads]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(threads->mu) { return threads->running == 0; };
  threads->mu.AwaitWithTimeout(absl::Condition(&done), timeout);
  threads->checker = nullptr;
}

}  // namespace kubegrpc::internal
