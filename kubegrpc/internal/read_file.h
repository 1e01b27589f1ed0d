// File: kubegrpc/internal/read_file.h
// -----------------------------------------------------------------------------
// Reading the small files kube-grpc's configuration points at (kubeconfigs,
// certificates, keys, tokens) with bounded effort: at most `max_bytes`, only
// regular files and pipes (so `<(command)` works), opened close-on-exec and never
// as a controlling terminal. A path naming a directory or a device, such as
// /dev/zero, is an error instead of an endless read.
//
// Errors: `error_code` (InvalidArgument or Unauthenticated, the caller's choice)
// with a message naming `what` and the path, never the contents.
// Thread-safe (a pure function over the file system).

#ifndef KUBEGRPC_INTERNAL_READ_FILE_H_
#define KUBEGRPC_INTERNAL_READ_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace kubegrpc::internal {

inline constexpr size_t kMaxConfigFileBytes = 4 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& what,
                                          absl::StatusCode error_code,
                                          size_t max_bytes = kMaxConfigFileBytes);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_READ_FILE_H_
