#include "kubegrpc/internal/redact.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"

namespace kubegrpc::internal {
namespace {

// Replaces what follows each case-insensitive `marker` up to the first
// character for which `stop` is true; with `keep_scheme`, a leading word and
// its spaces ("Bearer ", "Basic ") stay.
template <typename Stop>
void RedactAfter(std::string& text, const std::string& marker, Stop stop,
                 bool keep_scheme = false) {
  const std::string lower = absl::AsciiStrToLower(text);
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  for (size_t at = lower.find(marker); at != std::string::npos;
       at = lower.find(marker, at + marker.size())) {
    size_t value = at + marker.size();
    if (value < copied) continue;
    if (keep_scheme) {
      size_t i = value;
      while (i < text.size() && text[i] == ' ') ++i;
      size_t word = i;
      while (word < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[word]))) {
        ++word;
      }
      if (word > i && word < text.size() && text[word] == ' ') {
        while (word < text.size() && text[word] == ' ') ++word;
        value = word;
      } else {
        value = i;
      }
    }
    size_t end = value;
    while (end < text.size() && !stop(text[end])) ++end;
    if (end == value) continue;
    out.append(text, copied, value - copied);
    out.append(kRedacted);
    copied = end;
  }
  if (copied == 0) return;
  out.append(text, copied, std::string::npos);
  text = std::move(out);
}

// Replaces each run that a secret starts with, at least min(8, its size) long.
void RedactPrefixes(std::string& text, const std::string& secret) {
  const size_t min_run = std::min<size_t>(8, secret.size());
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < text.size();) {
    size_t n = 0;
    while (i + n < text.size() && n < secret.size() && text[i + n] == secret[n]) ++n;
    if (n >= min_run) {
      out.append(text, copied, i - copied);
      out.append(kRedacted);
      i += n;
      copied = i;
    } else {
      ++i;
    }
  }
  if (copied == 0) return;
  out.append(text, copied, std::string::npos);
  text = std::move(out);
}

}  // namespace

std::string RedactCredentials(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    if (absl::StrContains(text, secret)) absl::StrReplaceAll({{secret, kRedacted}}, &text);
    RedactPrefixes(text, secret);
  }
  RedactAfter(
      text, "authorization:", [](char c) { return c == '\n' || c == '\r' || c == '"'; },
      /*keep_scheme=*/true);
  RedactAfter(text, "bearer ", [](char c) {
    return absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' ||
           c == ',' || c == ')';
  });
  return text;
}

absl::Status RedactCredentials(const absl::Status& status,
                               const std::vector<std::string>& secrets) {
  if (status.ok()) return status;
  std::string message = RedactCredentials(std::string(status.message()), secrets);
  if (message == status.message()) return status;
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace kubegrpc::internal
