#include "kubegrpc/internal/read_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kubegrpc::internal {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& what,
                                          absl::StatusCode error_code, size_t max_bytes,
                                          absl::Duration pipe_wait) {
  const auto fail = [&](absl::string_view why) {
    return absl::Status(error_code,
                        absl::StrCat("kube-grpc: cannot read ", what, " ", path, ": ", why));
  };
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail(std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(std::strerror(err));
  }
  const bool pipe = S_ISFIFO(st.st_mode);
  if (!S_ISREG(st.st_mode) && !(pipe && pipe_wait > absl::ZeroDuration())) {
    ::close(fd);
    return fail(pipe ? "a pipe or FIFO, not a regular file" : "not a regular file");
  }
  const absl::Time deadline = absl::Now() + pipe_wait;
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && pipe) {
      // A pipe whose writer has not written (or closed) yet: wait, bounded.
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        ::close(fd);
        return fail(
            absl::StrCat("its writer did not finish within ", absl::FormatDuration(pipe_wait)));
      }
      struct pollfd p = {fd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
      continue;
    }
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail(std::strerror(err));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return fail(absl::StrCat("larger than ", max_bytes, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

mode_t FileMode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

}  // namespace kubegrpc::internal
