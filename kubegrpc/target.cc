#include "kubegrpc/target.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kubegrpc {
namespace {

constexpr char kForms[] =
    "expected a form like \"greeter.prod.svc.cluster.local:50051\", "
    "\"greeter.prod:50051\", \"greeter:grpc\" or \"kubernetes:///greeter.prod:50051\"";

absl::Status Invalid(absl::string_view target, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("kube-grpc: invalid target \"", target, "\": ", why, "; ", kForms));
}

// An RFC 1123 label, as Kubernetes requires of namespace names (and, as RFC 1035
// labels, starting with a letter, of Service names).
bool IsLabel(absl::string_view s, bool must_start_with_letter) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  if (s.front() == '-' || s.back() == '-') return false;
  return !must_start_with_letter || absl::ascii_islower(static_cast<unsigned char>(s.front()));
}

// An IANA service name: up to 15 of [a-z0-9-], at least one letter, no "--".
bool IsPortName(absl::string_view s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (s.find("--") != absl::string_view::npos) return false;
  bool letter = false;
  for (char c : s) {
    if (absl::ascii_islower(static_cast<unsigned char>(c))) {
      letter = true;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return letter;
}

}  // namespace

std::string ServiceTarget::ToString() const {
  return absl::StrCat(ns.empty() ? "<default>" : ns, "/", name, ":",
                      port_name.empty() ? std::to_string(port) : port_name);
}

absl::StatusOr<ServiceTarget> ParseTarget(absl::string_view target) {
  absl::string_view rest = absl::StripAsciiWhitespace(target);
  if (rest.empty()) return Invalid(target, "it is empty");
  if (absl::ConsumePrefix(&rest, "kubernetes://")) {
    if (!absl::ConsumePrefix(&rest, "/")) {
      return Invalid(target, "a kubernetes:// target has no authority: use three slashes");
    }
  } else if (rest.find("://") != absl::string_view::npos) {
    return Invalid(target, "only the kubernetes:/// scheme is understood");
  }
  size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos) return Invalid(target, "the port is missing");
  absl::string_view host = rest.substr(0, colon);
  absl::string_view port = rest.substr(colon + 1);

  ServiceTarget out;
  if (port.empty()) return Invalid(target, "the port is missing");
  if (absl::ascii_isdigit(static_cast<unsigned char>(port.front()))) {
    int number = 0;
    if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
      return Invalid(target, absl::StrCat("port \"", port, "\" is not a number from 1 to 65535"));
    }
    out.port = number;
  } else if (IsPortName(port)) {
    out.port_name = std::string(port);
  } else {
    return Invalid(target, absl::StrCat("\"", port,
                                        "\" is neither a port number nor a port name "
                                        "(lowercase letters, digits and '-', up to 15)"));
  }

  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() >= 3 && parts[2] != "svc") {
    return Invalid(target, "a name with more than two parts must read name.namespace.svc[.domain]");
  }
  if (parts.size() > 3) {
    for (size_t i = 3; i < parts.size(); ++i) {
      if (!IsLabel(parts[i], false)) {
        return Invalid(target,
                       absl::StrCat("\"", parts[i], "\" is not a valid cluster domain part"));
      }
    }
  }
  out.name = std::string(parts[0]);
  if (!IsLabel(out.name, /*must_start_with_letter=*/true)) {
    return Invalid(target, absl::StrCat("\"", out.name,
                                        "\" is not a valid Service name (lowercase letters, "
                                        "digits and '-', starting with a letter, up to 63)"));
  }
  if (parts.size() >= 2) {
    out.ns = std::string(parts[1]);
    if (!IsLabel(out.ns, false)) {
      return Invalid(target, absl::StrCat("\"", out.ns,
                                          "\" is not a valid namespace (lowercase letters, "
                                          "digits and '-', up to 63)"));
    }
  }
  return out;
}

}  // namespace kubegrpc
