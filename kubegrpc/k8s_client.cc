#include "kubegrpc/k8s_client.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kubegrpc {
namespace {
constexpr absl::string_view kRetryAfterUrl = "type.kubegrpc/retry-after-ms";
}  // namespace

void Cancellation::Cancel() {
  std::function<void()> callback;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    callback = callback_;
  }
  if (callback) callback();
}

bool Cancellation::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

void Cancellation::SetCallback(std::function<void()> fn) {
  bool run_now;
  {
    absl::MutexLock lock(&mu_);
    callback_ = fn;
    run_now = cancelled_;
  }
  if (run_now && fn) fn();
}

bool Cancellation::WaitUntil(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancelled_; };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  return cancelled_;
}

absl::StatusOr<std::string> K8sClient::GetNodeZone(const std::string& node, Cancellation*) {
  return absl::UnimplementedError(
      absl::StrCat("kube-grpc: this Kubernetes client cannot read Node ", node));
}

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterUrl);
  int64_t ms = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return absl::Milliseconds(ms);
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after) {
  status.SetPayload(kRetryAfterUrl,
                    absl::Cord(std::to_string(absl::ToInt64Milliseconds(retry_after))));
  return status;
}

}  // namespace kubegrpc
