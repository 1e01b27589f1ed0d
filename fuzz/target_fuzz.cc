// Fuzzes ParseTarget. Properties: an accepted target has a name and exactly one
// of a port in 1-65535 or a port name, and its canonical spelling
// kubernetes:///name.namespace:port parses back to the same target.

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "kubegrpc/target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kubegrpc::ServiceTarget> t = kubegrpc::ParseTarget(text);
  if (!t.ok()) {
    if (t.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  if (t->name.empty()) __builtin_trap();
  if ((t->port == 0) == t->port_name.empty()) __builtin_trap();
  if (t->port < 0 || t->port > 65535) __builtin_trap();
  const std::string port = t->port != 0 ? std::to_string(t->port) : t->port_name;
  const std::string canonical =
      t->ns.empty() ? absl::StrCat("kubernetes:///", t->name, ":", port)
                    : absl::StrCat("kubernetes:///", t->name, ".", t->ns, ":", port);
  absl::StatusOr<kubegrpc::ServiceTarget> again = kubegrpc::ParseTarget(canonical);
  if (!again.ok() || !(*again == *t)) __builtin_trap();
  return 0;
}
