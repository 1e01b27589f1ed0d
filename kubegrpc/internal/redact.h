// File: kubegrpc/internal/redact.h
// -----------------------------------------------------------------------------
// Keeping credentials out of error messages and logs. Messages quote the start
// of response bodies, and a misbehaving proxy may echo the request (with its
// Authorization header) into a body; a quote cut short may hold only part of a
// token. RedactCredentials() replaces, in this order:
//   - every occurrence of a secret;
//   - any run of at least min(8, its length) characters that a secret starts
//     with (what is left of a secret cut at a quote's end);
//   - the value after `Authorization:` (to the end of its line) and the word
//     after `Bearer ` (case-insensitive), whatever they are.
// Thread-safe (a pure function).

#ifndef KUBEGRPC_INTERNAL_REDACT_H_
#define KUBEGRPC_INTERNAL_REDACT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kubegrpc::internal {

inline constexpr char kRedacted[] = "<redacted>";

std::string RedactCredentials(std::string text, const std::vector<std::string>& secrets);
// `status` with its message redacted (payloads kept).
absl::Status RedactCredentials(const absl::Status& status, const std::vector<std::string>& secrets);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_REDACT_H_
