// File: kubegrpc/internal/read_file.h
// -----------------------------------------------------------------------------
// Reading the small files kube-grpc's configuration points at (kubeconfigs,
// certificates, keys, tokens) with bounded effort: at most `max_bytes`, opened
// non-blocking (a FIFO without a writer cannot hang the open), close-on-exec
// and never as a controlling terminal. Only regular files are read, unless
// `pipe_wait` is non-zero: then a pipe or FIFO (so that `KUBECONFIG=<(command)`
// works) is read until its writer closes it, for at most `pipe_wait` in all. A
// directory, a device such as /dev/zero, or a socket is an error.
//
// Errors: `error_code` (InvalidArgument or Unauthenticated, the caller's choice)
// with a message naming `what` and the path, never the contents.
// Thread-safe (a function over the file system).

#ifndef KUBEGRPC_INTERNAL_READ_FILE_H_
#define KUBEGRPC_INTERNAL_READ_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kubegrpc::internal {

inline constexpr size_t kMaxConfigFileBytes = 4 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& what,
                                          absl::StatusCode error_code,
                                          size_t max_bytes = kMaxConfigFileBytes,
                                          absl::Duration pipe_wait = absl::ZeroDuration());

// The permission bits of `path` (0 if it cannot be read).
mode_t FileMode(const std::string& path);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_READ_FILE_H_
