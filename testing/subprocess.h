// File: testing/subprocess.h
// -----------------------------------------------------------------------------
// A child process for interop tests (kubectl, the python client): started with
// an argument vector (no shell), its stdout and stderr read line by line with a
// timeout, killed (process group) when the object goes away.
//
//   auto p = kubegrpc::testing::Subprocess::Start({"kubectl", "get", "pods", "-w"});
//   std::optional<std::string> line = (*p)->ReadLineContaining("web-1", absl::Seconds(30));
//
// Thread-compatible: one thread uses an object at a time.

#ifndef TESTING_SUBPROCESS_H_
#define TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kubegrpc::testing {

class Subprocess {
 public:
  // Starts argv[0] (looked up on PATH) with `env` added to the environment.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~Subprocess();

  // The next line of output (stdout and stderr interleaved), without its newline;
  // nullopt at end of output or after `timeout`.
  std::optional<std::string> ReadLine(absl::Duration timeout);
  // Reads lines until one contains `needle`; nullopt if none does in `timeout`.
  std::optional<std::string> ReadLineContaining(const std::string& needle, absl::Duration timeout);
  // Everything read so far.
  const std::string& output() const { return output_; }
  // Sends `signal` to the process.
  void Signal(int signal);
  // Its process id (for /proc/<pid>/...).
  pid_t pid() const { return pid_; }
  // Waits for the process to exit (killing it after `timeout`); its exit code,
  // or -1 if it was killed.
  int Wait(absl::Duration timeout);

  // Runs a command to completion: its exit code and output.
  struct Result {
    int exit_code;
    std::string output;
  };
  static Result Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                    absl::Duration timeout = absl::Seconds(120));

  // True if `program` is an executable on PATH.
  static bool OnPath(const std::string& program);

 private:
  Subprocess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  pid_t pid_;
  int fd_;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string buffer_;  // read but not yet returned as a line
  std::string output_;
};

}  // namespace kubegrpc::testing

#endif  // TESTING_SUBPROCESS_H_
