// File: fakek8s/faults.h
// -----------------------------------------------------------------------------
// FaultInjector: what a misbehaving API server (or what stands in front of it)
// does to requests, for tests of clients: latency on every request, the next N
// requests failing with a code (429 with Retry-After and the rate limiter's
// plain-text body), or answered with exactly the given response (an HTML error
// page, a 200 with truncated JSON, a redirect).
//
// Thread-safety: thread-safe.

#ifndef FAKEK8S_FAULTS_H_
#define FAKEK8S_FAULTS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace httplib {
struct Response;
}  // namespace httplib

namespace fakek8s {

class FaultInjector {
 public:
  void SetLatency(absl::Duration latency) ABSL_LOCKS_EXCLUDED(mu_);
  // The next `count` requests get `http_code`. A non-zero `retry_after` adds the
  // Retry-After header; `plain_text` sends a text body instead of a Status.
  void FailNextRequests(int count, int http_code, absl::Duration retry_after, bool plain_text)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The next `count` requests get exactly this response.
  void RespondToNextRequests(int count, int http_code, std::string content_type, std::string body,
                             std::vector<std::pair<std::string, std::string>> headers)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Applies the latency, then, if a fault is due, writes it into `res`: true
  // if the request was answered.
  bool Inject(httplib::Response& res) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct RawResponse {
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  absl::Mutex mu_;
  absl::Duration latency_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int fail_count_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_code_ ABSL_GUARDED_BY(mu_) = 500;
  absl::Duration fail_retry_after_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  bool fail_plain_text_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<RawResponse> fail_raw_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fakek8s

#endif  // FAKEK8S_FAULTS_H_
