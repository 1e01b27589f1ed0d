#include "kubegrpc/pool_options.h"

#include "absl/strings/str_cat.h"

namespace kubegrpc {
namespace {

absl::Status Percent(const char* field, int value) {
  if (value < 0 || value > 100) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: OutlierDetectionOptions::", field,
                                                   " is ", value, "; it must be 0-100"));
  }
  return absl::OkStatus();
}

absl::Status AtLeast(const char* field, int64_t value, int64_t min) {
  if (value < min) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: OutlierDetectionOptions::", field,
                                                   " is ", value, "; it must be >= ", min));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateOutlierDetection(const OutlierDetectionOptions& o) {
  if (!o.enabled) return absl::OkStatus();
  for (grpc::StatusCode code : o.failure_codes) {
    const int c = static_cast<int>(code);
    if (c <= 0 || c > 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("kube-grpc: OutlierDetectionOptions::failure_codes holds ", c,
                       "; it takes gRPC status codes other than OK (1-16)"));
    }
  }
  for (auto [field, d] : {std::pair<const char*, absl::Duration>{"interval", o.interval},
                          {"base_ejection_time", o.base_ejection_time},
                          {"max_ejection_time", o.max_ejection_time}}) {
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("kube-grpc: OutlierDetectionOptions::", field,
                                                     " is ", absl::FormatDuration(d),
                                                     "; it must be finite and more than 0"));
    }
  }
  if (absl::Status s = AtLeast("consecutive_failures", o.consecutive_failures, 0); !s.ok()) {
    return s;
  }
  if (absl::Status s = Percent("max_ejection_percent", o.max_ejection_percent); !s.ok()) return s;
  if (o.success_rate.has_value()) {
    const auto& r = *o.success_rate;
    if (absl::Status s = AtLeast("success_rate.stdev_factor", r.stdev_factor, 0); !s.ok()) return s;
    if (absl::Status s = Percent("success_rate.enforcement_percentage", r.enforcement_percentage);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = AtLeast("success_rate.minimum_hosts", r.minimum_hosts, 1); !s.ok()) {
      return s;
    }
    if (absl::Status s = AtLeast("success_rate.request_volume", r.request_volume, 1); !s.ok()) {
      return s;
    }
  }
  if (o.failure_percentage.has_value()) {
    const auto& r = *o.failure_percentage;
    if (absl::Status s = Percent("failure_percentage.threshold", r.threshold); !s.ok()) return s;
    if (absl::Status s =
            Percent("failure_percentage.enforcement_percentage", r.enforcement_percentage);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = AtLeast("failure_percentage.minimum_hosts", r.minimum_hosts, 1); !s.ok()) {
      return s;
    }
    if (absl::Status s = AtLeast("failure_percentage.request_volume", r.request_volume, 1);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace kubegrpc
