// File: testing/blackhole.h
// -----------------------------------------------------------------------------
// Servers that misbehave below HTTP, on 127.0.0.1, for tests and benchmarks of
// what a client does when the other end hangs:
//   - kSilent: accepts connections and reads them, never answers (a hung API
//     server, or a proxy in front of a dead one);
//   - kDropsSyns: its accept queue is full and it never accepts, so new SYNs
//     are dropped and a connect hangs until the client gives up.
//
//   kubegrpc::testing::Blackhole hole(kubegrpc::testing::Blackhole::Mode::kSilent);
//   config.server = hole.url();   // "http://127.0.0.1:<port>"
//
// Thread-safety: thread-compatible; the object owns its accept thread.

#ifndef TESTING_BLACKHOLE_H_
#define TESTING_BLACKHOLE_H_

#include <string>
#include <thread>
#include <vector>

namespace kubegrpc::testing {

class Blackhole {
 public:
  enum class Mode { kSilent, kDropsSyns };
  explicit Blackhole(Mode mode);
  ~Blackhole();
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;

  int port() const { return port_; }
  std::string url() const;

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> held_;  // accepted (kSilent) or never-accepted fillers (kDropsSyns)
  std::thread thread_;
};

}  // namespace kubegrpc::testing

#endif  // TESTING_BLACKHOLE_H_
