"""Checks that the offline registry (tools/bazel/registry) serves what MODULE.bazel asks for.

For every library in SYSTEM_LIBRARIES (tools/bazel/system/system.bzl): a module per
version with the right name and version, a local_path source that exists, and a
stand-in BUILD file calling system_aliases in every package the library has targets
in. For every bazel_dep of kube-grpc's MODULE.bazel: the registry has that version
(rules Debian's Bazel overrides excepted), under the repo_name WORKSPACE uses too.
Run by .ci/run; argument: the repository root.
"""

import json
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
registry = os.path.join(root, "tools/bazel/registry")
errors = []


def load_system_libraries():
    """SYSTEM_LIBRARIES from system.bzl (Starlark that Python also reads)."""

    class Stub:
        def __getattr__(self, name):
            return lambda *a, **k: None

    env = {
        "repository_rule": lambda **k: None,
        "attr": Stub(),
        "native": Stub(),
        "fail": lambda msg: errors.append(msg),
    }
    with open(os.path.join(root, "tools/bazel/system/system.bzl")) as f:
        exec(compile(f.read(), "system.bzl", "exec"), env)
    return env["SYSTEM_LIBRARIES"]


def module_versions(name):
    path = os.path.join(registry, "modules", name)
    if not os.path.isdir(path):
        return []
    return sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))


def check_module(name, packages):
    versions = module_versions(name)
    if not versions:
        errors.append("%s: no module in the registry" % name)
        return
    with open(os.path.join(registry, "modules", name, "metadata.json")) as f:
        listed = sorted(json.load(f)["versions"])
    if listed != versions:
        errors.append("%s: metadata.json lists %s, the registry has %s" % (name, listed, versions))
    for v in versions:
        d = os.path.join(registry, "modules", name, v)
        text = open(os.path.join(d, "MODULE.bazel")).read()
        if not re.search(r'name = "%s",\s*\n\s*version = "%s"' % (re.escape(name), re.escape(v)), text):
            errors.append("%s/%s/MODULE.bazel does not declare that name and version" % (name, v))
        with open(os.path.join(d, "source.json")) as f:
            source = json.load(f)
        src = os.path.normpath(os.path.join(registry, source["path"]))
        if source.get("type") != "local_path" or not os.path.isfile(os.path.join(src, "REPO.bazel")):
            errors.append("%s/%s: source %s is not a local_path with a REPO.bazel" % (name, v, src))
    src = os.path.join(registry, "stand_ins", name)
    for pkg in packages:
        build = os.path.join(src, pkg, "BUILD.bazel")
        if not os.path.isfile(build) or ('system_aliases("%s")' % name) not in open(build).read():
            errors.append("%s: %s does not call system_aliases(%r)" % (name, build, name))


libraries = load_system_libraries()
for name, spec in libraries.items():
    labels = list(spec.get("libraries", {})) + list(spec.get("tools", {}))
    check_module(name, sorted({label.partition(":")[0] for label in labels}))
check_module("kubegrpc_system_libs", [])

# kube-grpc's own MODULE.bazel.
debian_overrides = {"rules_cc", "platforms", "bazel_skylib", "rules_java", "rules_proto",
                    "rules_python", "rules_license", "bazel_features"}
module = open(os.path.join(root, "MODULE.bazel")).read()
deps = re.findall(r"bazel_dep\(([^)]*)\)", module)
if not deps:
    errors.append("MODULE.bazel: no bazel_dep found")
for dep in deps:
    fields = dict(re.findall(r'(\w+) = "([^"]*)"', dep))
    name, version = fields.get("name"), fields.get("version")
    if name in debian_overrides:
        continue
    if version not in module_versions(name):
        errors.append("MODULE.bazel asks for %s %s, which the registry does not have" % (name, version))
    if name in libraries:
        want = libraries[name]["workspace_name"]
        if fields.get("repo_name", name) != want:
            errors.append("MODULE.bazel: %s should have repo_name %r (its WORKSPACE name)" % (name, want))
for name in libraries:
    if not any('name = "%s"' % name in dep for dep in deps):
        errors.append("MODULE.bazel has no bazel_dep on %s, which SYSTEM_LIBRARIES serves" % name)

own = re.search(r'module\(\s*name = "kube_grpc",\s*version = "([^"]+)"', module)
consumer = open(os.path.join(root, "examples/consumer/MODULE.bazel")).read()
if not own or ('bazel_dep(name = "kube_grpc", version = "%s")' % own.group(1)) not in consumer:
    errors.append("examples/consumer/MODULE.bazel does not ask for kube_grpc's own version")

for e in errors:
    print("registry_test: " + e)
print("registry_test: %d libraries, %d bazel_deps checked, %d problems" %
      (len(libraries), len(deps), len(errors)))
sys.exit(1 if errors else 0)
