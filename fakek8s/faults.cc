#include "fakek8s/faults.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/http_util.h"
#include "httplib.h"

namespace fakek8s {

using internal::WriteError;
using json = nlohmann::json;

void FaultInjector::SetLatency(absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  latency_ = latency;
}

void FaultInjector::FailNextRequests(int count, int http_code, absl::Duration retry_after,
                                     bool plain_text) {
  absl::MutexLock lock(&mu_);
  fail_count_ = count;
  fail_code_ = http_code;
  fail_retry_after_ = retry_after;
  fail_plain_text_ = plain_text;
  fail_raw_.reset();
}

void FaultInjector::RespondToNextRequests(
    int count, int http_code, std::string content_type, std::string body,
    std::vector<std::pair<std::string, std::string>> headers) {
  absl::MutexLock lock(&mu_);
  fail_count_ = count;
  fail_code_ = http_code;
  fail_retry_after_ = absl::ZeroDuration();
  fail_plain_text_ = false;
  fail_raw_ = RawResponse{std::move(content_type), std::move(body), std::move(headers)};
}

bool FaultInjector::Inject(httplib::Response& res) {
  absl::Duration latency;
  int code = 0;
  absl::Duration retry_after;
  bool plain = false;
  std::optional<RawResponse> raw;
  {
    absl::MutexLock lock(&mu_);
    latency = latency_;
    if (fail_count_ > 0) {
      --fail_count_;
      code = fail_code_;
      retry_after = fail_retry_after_;
      plain = fail_plain_text_;
      raw = fail_raw_;
    }
  }
  if (latency > absl::ZeroDuration()) absl::SleepFor(latency);
  if (code == 0) return false;
  if (raw.has_value()) {
    res.status = code;
    for (const auto& [name, value] : raw->headers) res.set_header(name.c_str(), value);
    res.set_content(raw->body, raw->content_type.c_str());
    return true;
  }
  if (retry_after > absl::ZeroDuration()) {
    res.set_header("Retry-After",
                   std::to_string(absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1)))));
  }
  if (plain) {
    res.status = code;
    res.set_content(code == 429 ? "Too many requests, please try again later.\n"
                                : "fakek8s: injected failure\n",
                    "text/plain; charset=utf-8");
    return true;
  }
  const char* reason = code == 429   ? "TooManyRequests"
                       : code == 503 ? "ServiceUnavailable"
                       : code == 504 ? "Timeout"
                       : code == 401 ? "Unauthorized"
                       : code == 403 ? "Forbidden"
                       : code >= 500 ? "InternalError"
                                     : "BadRequest";
  json details = nullptr;
  if (retry_after > absl::ZeroDuration()) {
    details = {
        {"retryAfterSeconds", absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1)))}};
  }
  WriteError(res, ApiError(code, reason, absl::StrCat("fakek8s: injected ", code, " failure")),
             details);
  return true;
}

}  // namespace fakek8s
