#include "kubegrpc/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kubegrpc/internal/read_file.h"
#include "yaml-cpp/yaml.h"

namespace kubegrpc {
namespace {

std::string SystemGetenv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? "" : v;
}

// Configuration files; a kubeconfig may also come from a pipe (`<(command)`).
absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what,
                                     bool allow_pipe = false) {
  return internal::ReadSmallFile(path, what, absl::StatusCode::kInvalidArgument,
                                 internal::kMaxConfigFileBytes,
                                 allow_pipe ? absl::Seconds(5) : absl::ZeroDuration());
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string Dir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return absl::StrCat(base_dir, "/", path);
}

// One kubeconfig file, parsed.
struct Kubeconfig {
  std::string path;
  YAML::Node root;
};

// The first entry named `name` in list `field` of any file, and its file's dir.
std::optional<std::pair<YAML::Node, std::string>> FindNamed(const std::vector<Kubeconfig>& files,
                                                            const char* field, const char* inner,
                                                            const std::string& name) {
  for (const Kubeconfig& f : files) {
    YAML::Node list = f.root[field];
    if (!list || !list.IsSequence()) continue;
    for (const YAML::Node& entry : list) {
      if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() &&
          entry["name"].Scalar() == name) {
        YAML::Node body = entry[inner];
        return std::make_pair(body ? body : YAML::Node(YAML::NodeType::Map), Dir(f.path));
      }
    }
  }
  return std::nullopt;
}

std::string Scalar(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return "";
  YAML::Node v = map[key];
  return v && v.IsScalar() ? v.Scalar() : "";
}

// A PEM from `<field>-data` (base64) or the file `<field>`.
absl::Status LoadPem(const YAML::Node& map, const std::string& field, const std::string& dir,
                     const std::string& where, std::string* out) {
  std::string data = Scalar(map, (field + "-data").c_str());
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kube-grpc: ", where, ": ", field, "-data is not valid base64"));
    }
    *out = std::move(decoded);
    return absl::OkStatus();
  }
  std::string file = Scalar(map, field.c_str());
  if (file.empty()) return absl::OkStatus();
  const std::string path = Resolve(dir, file);
  absl::StatusOr<std::string> pem = ReadFile(path, absl::StrCat(where, " ", field));
  if (!pem.ok()) return pem.status();
  // As ssh does for private keys: say so when others may read it.
  if (field == "client-key" && (internal::FileMode(path) & 077) != 0) {
    std::cerr << "kube-grpc: WARNING: the client key " << path << " (" << where
              << ") can be read by other users (mode " << std::oct << internal::FileMode(path)
              << std::dec << "); chmod 600 it" << std::endl;
  }
  *out = *std::move(pem);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClusterConfig> InClusterConfig(const InClusterOptions& options) {
  auto getenv = options.getenv ? options.getenv : SystemGetenv;
  std::string host = getenv("KUBERNETES_SERVICE_HOST");
  std::string port = getenv("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(
        "kube-grpc: not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT are not set); use a kubeconfig instead");
  }
  ClusterConfig config;
  config.source = "in-cluster";
  if (absl::StrContains(host, ':') && host.front() != '[') host = absl::StrCat("[", host, "]");
  config.server = absl::StrCat("https://", host, ":", port);
  const std::string dir = options.service_account_dir;
  config.token_file = dir + "/token";
  if (!FileExists(config.token_file)) {
    return absl::FailedPreconditionError(
        absl::StrCat("kube-grpc: in a pod but the service account token ", config.token_file,
                     " does not exist (is automountServiceAccountToken off?)"));
  }
  absl::StatusOr<std::string> ca = ReadFile(dir + "/ca.crt", "the service account CA");
  if (!ca.ok()) return ca.status();
  config.ca_pem = *std::move(ca);
  config.ns = getenv("POD_NAMESPACE");
  if (config.ns.empty()) {
    absl::StatusOr<std::string> ns = ReadFile(dir + "/namespace", "the pod's namespace file");
    config.ns = ns.ok() ? std::string(absl::StripAsciiWhitespace(*ns)) : "";
  }
  if (config.ns.empty()) config.ns = "default";
  return config;
}

namespace {

// A user's exec block (client.authentication.k8s.io v1 or v1beta1).
absl::StatusOr<ExecPlugin> ParseExec(const YAML::Node& exec, const std::string& dir,
                                     const std::string& where) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: ", where, " exec: ", why));
  };
  if (!exec.IsMap()) return bad("is not a mapping");
  ExecPlugin plugin;
  plugin.api_version = Scalar(exec, "apiVersion");
  if (plugin.api_version != "client.authentication.k8s.io/v1" &&
      plugin.api_version != "client.authentication.k8s.io/v1beta1") {
    return bad(absl::StrCat("apiVersion \"", plugin.api_version,
                            "\" is not client.authentication.k8s.io/v1 or /v1beta1"));
  }
  plugin.command = Scalar(exec, "command");
  if (plugin.command.empty()) return bad("has no command");
  // As kubectl: a command with a slash is a path, relative to the kubeconfig.
  if (plugin.command.find('/') != std::string::npos) plugin.command = Resolve(dir, plugin.command);
  if (const YAML::Node args = exec["args"]; args) {
    if (!args.IsSequence()) return bad("args is not a list");
    for (const YAML::Node& a : args) {
      if (!a.IsScalar()) return bad("an argument is not a string");
      plugin.args.push_back(a.Scalar());
    }
  }
  if (const YAML::Node env = exec["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) return bad("env is not a list");
    for (const YAML::Node& e : env) {
      if (!e.IsMap() || Scalar(e, "name").empty()) return bad("an env entry has no name");
      plugin.env.emplace_back(Scalar(e, "name"), Scalar(e, "value"));
    }
  }
  const std::string mode = Scalar(exec, "interactiveMode");
  if (mode.empty()) {
    if (plugin.api_version == "client.authentication.k8s.io/v1") {
      return bad("interactiveMode is required by client.authentication.k8s.io/v1");
    }
  } else if (mode != "Never" && mode != "IfAvailable" && mode != "Always") {
    return bad(absl::StrCat("interactiveMode \"", mode, "\" is not Never, IfAvailable or Always"));
  } else {
    plugin.interactive_mode = mode;
  }
  plugin.provide_cluster_info = Scalar(exec, "provideClusterInfo") == "true";
  plugin.install_hint = Scalar(exec, "installHint");
  return plugin;
}

absl::StatusOr<ClusterConfig> KubeconfigConfigImpl(const KubeconfigOptions& options) {
  auto getenv = options.getenv ? options.getenv : SystemGetenv;
  std::string paths = options.paths.empty() ? getenv("KUBECONFIG") : options.paths;
  if (paths.empty()) {
    std::string home = getenv("HOME");
    if (home.empty()) {
      return absl::FailedPreconditionError(
          "kube-grpc: no kubeconfig: KUBECONFIG and HOME are not set");
    }
    paths = home + "/.kube/config";
  }
  std::vector<Kubeconfig> files;
  for (absl::string_view p : absl::StrSplit(paths, ':', absl::SkipEmpty())) {
    std::string path(p);
    if (!FileExists(path)) continue;  // as kubectl: missing files in the list are skipped
    absl::StatusOr<std::string> text = ReadFile(path, "kubeconfig", /*allow_pipe=*/true);
    if (!text.ok()) return text.status();
    try {
      files.push_back({path, YAML::Load(*text)});
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("kube-grpc: kubeconfig ", path, " is not valid YAML: ", e.what()));
    }
    if (!files.back().root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kube-grpc: kubeconfig ", path, " is not a YAML mapping"));
    }
  }
  if (files.empty()) {
    const bool from_env = options.paths.empty() && !getenv("KUBECONFIG").empty();
    return absl::FailedPreconditionError(
        absl::StrCat("kube-grpc: no kubeconfig found at ", paths, " (and not running in a pod); ",
                     from_env ? "KUBECONFIG names no file that exists"
                              : "set KUBECONFIG, or create ~/.kube/config"));
  }
  std::string context_name = options.context;
  for (const Kubeconfig& f : files) {
    if (!context_name.empty()) break;
    context_name = Scalar(f.root, "current-context");
  }
  if (context_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: kubeconfig ", paths,
                                                   " sets no current-context and none was given"));
  }
  auto found_context = FindNamed(files, "contexts", "context", context_name);
  if (!found_context) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc: kubeconfig ", paths, " has no context \"", context_name, "\""));
  }
  const YAML::Node context = found_context->first;
  if (!context.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: kubeconfig ", paths, " context \"",
                                                   context_name, "\" is not a mapping"));
  }
  const std::string cluster_name = Scalar(context, "cluster");
  const std::string user_name = Scalar(context, "user");
  auto found_cluster = FindNamed(files, "clusters", "cluster", cluster_name);
  if (!found_cluster) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: kubeconfig context \"", context_name,
                                                   "\" names cluster \"", cluster_name,
                                                   "\", which is not defined"));
  }
  const auto& [cluster, cluster_dir] = *found_cluster;
  if (!cluster.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: kubeconfig ", paths, " cluster \"",
                                                   cluster_name, "\" is not a mapping"));
  }
  ClusterConfig config;
  config.source = absl::StrCat("kubeconfig ", paths, ", context ", context_name);
  config.server = Scalar(cluster, "server");
  if (config.server.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc: kubeconfig cluster \"", cluster_name, "\" has no server"));
  }
  const std::string where = absl::StrCat("kubeconfig cluster \"", cluster_name, "\"");
  if (absl::Status s =
          LoadPem(cluster, "certificate-authority", cluster_dir, where, &config.ca_pem);
      !s.ok()) {
    return s;
  }
  config.insecure_skip_tls_verify = Scalar(cluster, "insecure-skip-tls-verify") == "true";
  config.tls_server_name = Scalar(cluster, "tls-server-name");

  if (!user_name.empty()) {
    auto found_user = FindNamed(files, "users", "user", user_name);
    if (!found_user) {
      return absl::InvalidArgumentError(absl::StrCat("kube-grpc: kubeconfig context \"",
                                                     context_name, "\" names user \"", user_name,
                                                     "\", which is not defined"));
    }
    const auto& [user, user_dir] = *found_user;
    if (!user.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat("kube-grpc: kubeconfig ", paths, " user \"",
                                                     user_name, "\" is not a mapping"));
    }
    const std::string user_where = absl::StrCat("kubeconfig user \"", user_name, "\"");
    config.token = Scalar(user, "token");
    std::string token_file = Scalar(user, "tokenFile");
    if (!token_file.empty()) config.token_file = Resolve(user_dir, token_file);
    if (absl::Status s =
            LoadPem(user, "client-certificate", user_dir, user_where, &config.client_cert_pem);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = LoadPem(user, "client-key", user_dir, user_where, &config.client_key_pem);
        !s.ok()) {
      return s;
    }
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kube-grpc: ", user_where, " has a client certificate or key without the other"));
    }
    if (user["exec"]) {
      absl::StatusOr<ExecPlugin> exec = ParseExec(user["exec"], user_dir, user_where);
      if (!exec.ok()) return exec.status();
      config.exec = *std::move(exec);
    }
    if (user["auth-provider"] && config.token.empty() && config.token_file.empty() &&
        config.client_cert_pem.empty() && !config.exec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kube-grpc: ", user_where,
          " uses an auth-provider plugin (removed from Kubernetes in 1.26), which kube-grpc does "
          "not run; use an exec plugin, a token, tokenFile or client certificate"));
    }
  }
  std::string ns = Scalar(context, "namespace");
  config.ns = ns.empty() ? "default" : ns;
  return config;
}

}  // namespace

absl::StatusOr<ClusterConfig> KubeconfigConfig(const KubeconfigOptions& options) {
  // The parser checks each node's type before using it; this catches what a
  // future change might miss, so a strange file is an error, never a crash.
  try {
    return KubeconfigConfigImpl(options);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc: kubeconfig ", options.paths.empty() ? "(default)" : options.paths,
                     " is not usable: ", e.what()));
  }
}

absl::StatusOr<ClusterConfig> DefaultConfig() {
  if (!SystemGetenv("KUBERNETES_SERVICE_HOST").empty()) return InClusterConfig();
  return KubeconfigConfig();
}

}  // namespace kubegrpc
