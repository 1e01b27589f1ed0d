// File: tools/flags/usage.h
// -----------------------------------------------------------------------------
// Command-line parsing for kube-grpc's binaries (tools, not the library):
// `--help` (or -h, --helpfull) prints `usage` and the binary's own flags and
// exits 0; anything else goes to absl::ParseCommandLine.
//
//   int main(int argc, char** argv) {
//     std::vector<char*> args = kubegrpc::tools::ParseFlags(argc, argv,
//         "fakek8s: a fake Kubernetes API server.\n  bazel run //fakek8s:server -- [flags]");

#ifndef TOOLS_FLAGS_USAGE_H_
#define TOOLS_FLAGS_USAGE_H_

#include <string>
#include <vector>

namespace kubegrpc::tools {

// The positional arguments (argv[0] first), as absl::ParseCommandLine returns.
std::vector<char*> ParseFlags(int argc, char** argv, const std::string& usage);

// Resolves a path given on the command line of a `bazel run` binary against
// the directory it was run from ($BUILD_WORKING_DIRECTORY), as a user expects.
std::string FromWorkingDirectory(const std::string& path);

}  // namespace kubegrpc::tools

#endif  // TOOLS_FLAGS_USAGE_H_
