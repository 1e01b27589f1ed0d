// Fuzzes the kubeconfig parser with arbitrary files. Properties: no crash, any
// error is InvalidArgument or FailedPrecondition, and a parsed configuration has
// a server and a namespace.
//
// The input is written to a file in a directory of its own, so the relative
// file references a kubeconfig may hold resolve inside that directory.

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "kubegrpc/config.h"

namespace {

const std::string& Dir() {
  static const std::string* dir = [] {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/kubeconfig_fuzz.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) __builtin_trap();
    return new std::string(pattern);
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = Dir() + "/config";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);

  kubegrpc::KubeconfigOptions options;
  options.paths = path;
  options.getenv = [](const std::string&) { return std::string(); };
  absl::StatusOr<kubegrpc::ClusterConfig> config = kubegrpc::KubeconfigConfig(options);
  if (!config.ok()) {
    const absl::StatusCode code = config.status().code();
    if (code != absl::StatusCode::kInvalidArgument &&
        code != absl::StatusCode::kFailedPrecondition) {
      __builtin_trap();
    }
    return 0;
  }
  if (config->server.empty() || config->ns.empty()) __builtin_trap();
  return 0;
}
