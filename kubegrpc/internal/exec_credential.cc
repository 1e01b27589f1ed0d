#include "kubegrpc/internal/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "kubegrpc/internal/redact.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace kubegrpc::internal {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxStdout = 1 << 20;
constexpr size_t kMaxStderr = 64 << 10;

// The KUBERNETES_EXEC_INFO a plugin reads.
std::string ExecInfo(const ClusterConfig& config) {
  const ExecPlugin& plugin = *config.exec;
  json spec = {{"interactive", false}};
  if (plugin.provide_cluster_info) {
    json cluster = {{"server", config.server}};
    if (!config.ca_pem.empty())
      cluster["certificate-authority-data"] = absl::Base64Escape(config.ca_pem);
    if (!config.tls_server_name.empty()) cluster["tls-server-name"] = config.tls_server_name;
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    spec["cluster"] = std::move(cluster);
  }
  return json{{"kind", "ExecCredential"}, {"apiVersion", plugin.api_version}, {"spec", spec}}
      .dump();
}

// Reads from `fd` into `out` (up to `max` bytes kept); false at end of output.
bool Drain(int fd, std::string* out, size_t max) {
  char buf[8192];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  if (out->size() < max)
    out->append(buf, std::min<size_t>(static_cast<size_t>(n), max - out->size()));
  return true;
}

}  // namespace

absl::StatusOr<ExecCredential> RunExecPlugin(const ClusterConfig& config, absl::Duration timeout) {
  const ExecPlugin& plugin = *config.exec;
  const std::string who =
      absl::StrCat("the exec credential plugin \"", plugin.command, "\" (", config.source, ")");
  auto fail = [&](absl::string_view why) {
    return absl::UnauthenticatedError(absl::StrCat("kube-grpc: ", who, ": ", why));
  };
  if (plugin.interactive_mode == "Always") {
    return fail(
        "it needs an interactive terminal (interactiveMode: Always), which kube-grpc, a "
        "library, never has");
  }
  // Everything the child needs, made before it exists.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = entry.rfind("KUBERNETES_EXEC_INFO=", 0) == 0;
    for (const auto& [name, value] : plugin.env) replaced |= entry.rfind(name + "=", 0) == 0;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : plugin.env) env.push_back(name + "=" + value);
  env.push_back("KUBERNETES_EXEC_INFO=" + ExecInfo(config));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {plugin.command};
  args.insert(args.end(), plugin.args.begin(), plugin.args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return fail(std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return fail(std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  pid_t pid = 0;
  const int spawned =
      ::posix_spawnp(&pid, plugin.command.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawned != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    std::string why = absl::StrCat("cannot run it: ", std::strerror(spawned));
    if (!plugin.install_hint.empty()) absl::StrAppend(&why, ". ", plugin.install_hint);
    return fail(why);
  }

  std::string out, err;
  bool out_open = true, err_open = true, timed_out = false;
  const absl::Time deadline = absl::Now() + timeout;
  while (out_open || err_open) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    struct pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                            {err_open ? err_pipe[0] : -1, POLLIN, 0}};
    const int ready =
        ::poll(fds, 2, static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
    if (ready < 0 && errno != EINTR) break;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      out_open = Drain(out_pipe[0], &out, kMaxStdout);
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      err_open = Drain(err_pipe[0], &err, kMaxStderr);
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return fail(absl::StrCat("it did not finish within ", absl::FormatDuration(timeout),
                             " and was killed"));
  }
  auto stderr_start = [&] {
    std::string text = RedactCredentials(err.substr(0, 4096), {});
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    return text.empty() ? std::string("(no output on stderr)")
                        : absl::StrCat("\"", absl::CHexEscape(text), "\"");
  };
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why = WIFEXITED(status)
                          ? absl::StrCat("it exited with ", WEXITSTATUS(status))
                          : absl::StrCat("it was killed by signal ", WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !plugin.install_hint.empty()) {
      absl::StrAppend(&why, " (", plugin.install_hint, ")");
    }
    return fail(absl::StrCat(why, ": ", stderr_start()));
  }
  json credential = json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (credential.is_discarded() || !credential.is_object()) {
    return fail(absl::StrCat("its output is not JSON (", out.size(), " bytes)"));
  }
  if (credential.value("kind", "") != "ExecCredential" ||
      credential.value("apiVersion", "") != plugin.api_version) {
    return fail(absl::StrCat("its output is not an ExecCredential of ", plugin.api_version,
                             " (kind \"", credential.value("kind", ""), "\", apiVersion \"",
                             credential.value("apiVersion", ""), "\")"));
  }
  const json status_object = credential.contains("status") && credential["status"].is_object()
                                 ? credential["status"]
                                 : json::object();
  const json token = status_object.value("token", json());
  if (!token.is_string() || token.get<std::string>().empty()) {
    if (status_object.contains("clientCertificateData")) {
      return fail("it gave a client certificate; kube-grpc supports tokens from exec plugins");
    }
    return fail("its ExecCredential has no status.token");
  }
  ExecCredential result;
  result.token = token.get<std::string>();
  const json expiration = status_object.value("expirationTimestamp", json());
  if (expiration.is_string() && !expiration.get<std::string>().empty()) {
    std::string parse_error;
    if (!absl::ParseTime(absl::RFC3339_full, expiration.get<std::string>(), &result.expires,
                         &parse_error)) {
      return fail(absl::StrCat("its expirationTimestamp \"", expiration.get<std::string>(),
                               "\" is not an RFC 3339 time"));
    }
  }
  return result;
}

}  // namespace kubegrpc::internal
