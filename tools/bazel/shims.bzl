"""Offline shims for the repositories Bazel 4.2.3 itself asks for.

Debian's `bazel-bootstrap` has no network: the repositories that Bazel's default
WORKSPACE suffix would download (`rules_cc`, `rules_java`, `remote_coverage_tools`)
are replaced by tiny local repositories, and `platforms` comes from Debian's
`bazel-platforms` package. `rules_shell` (where Bazel 9 keeps `sh_test`, which the
BUILD files load from it) maps to Bazel 4's native shell rules the same way. Each
shim is only defined when the workspace has not defined that repository already, so
a monorepo with the real rules keeps them.
"""

def _files_repository_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    for path, content in rctx.attr.files.items():
        rctx.file(path, content, executable = path.endswith(".sh"))

_files_repository = repository_rule(
    implementation = _files_repository_impl,
    attrs = {"files": attr.string_dict(mandatory = True)},
    doc = "A repository made of the given files (path -> content) and a WORKSPACE file.",
)

def _shim(name, files):
    """Defines repository `name` from `files` unless the workspace already has it."""
    if not native.existing_rule(name):
        _files_repository(name = name, files = files)

# rules_cc: re-export the native rules, which is what rules_cc 0.0.x does too.
_RULES_CC_DEFS = """\
\"\"\"Offline shim: rules_cc's public macros map to Bazel's native C++ rules.\"\"\"
cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_shared_library = getattr(native, "cc_shared_library", None)
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
fdo_prefetch_hints = native.fdo_prefetch_hints
fdo_profile = native.fdo_profile
objc_import = native.objc_import
objc_library = native.objc_library
"""

_RULES_JAVA_DEFS = """\
\"\"\"Offline shim: rules_java's public macros map to Bazel's native Java rules.\"\"\"
java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_lite_proto_library = native.java_lite_proto_library
java_package_configuration = native.java_package_configuration
java_plugin = native.java_plugin
java_proto_library = native.java_proto_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain
"""

_RULES_SHELL_SH_TEST = """\
\"\"\"Offline shim: rules_shell's sh_test is Bazel 4's native one.\"\"\"
sh_test = native.sh_test
"""

_RULES_SHELL_SH_BINARY = """\
\"\"\"Offline shim: rules_shell's sh_binary is Bazel 4's native one.\"\"\"
sh_binary = native.sh_binary
"""

# Coverage is not supported offline: the tools exist so that test rules resolve,
# and say so clearly if someone runs `bazel coverage`.
_COVERAGE_STUB = """\
#!/bin/sh
echo "kube-grpc: 'bazel coverage' needs Bazel's remote_coverage_tools, which this offline build does not have" >&2
exit 1
"""

def kubegrpc_bazel_shims():
    """Defines rules_cc, rules_java, rules_shell, remote_coverage_tools and platforms offline."""
    _shim(
        name = "rules_cc",
        files = {
            "BUILD.bazel": "",
            "cc/BUILD.bazel": "exports_files([\"defs.bzl\"])\n",
            "cc/defs.bzl": _RULES_CC_DEFS,
        },
    )
    _shim(
        name = "rules_java",
        files = {
            "BUILD.bazel": "",
            "java/BUILD.bazel": "exports_files([\"defs.bzl\"])\n",
            "java/defs.bzl": _RULES_JAVA_DEFS,
        },
    )
    _shim(
        name = "rules_shell",
        files = {
            "BUILD.bazel": "",
            "shell/BUILD.bazel": "exports_files([\"sh_binary.bzl\", \"sh_test.bzl\"])\n",
            "shell/sh_binary.bzl": _RULES_SHELL_SH_BINARY,
            "shell/sh_test.bzl": _RULES_SHELL_SH_TEST,
        },
    )
    _shim(
        name = "remote_coverage_tools",
        files = {
            "coverage_report_generator.sh": _COVERAGE_STUB,
            "lcov_merger.sh": _COVERAGE_STUB,
            "BUILD.bazel": """\
package(default_visibility = ["//visibility:public"])
sh_binary(name = "coverage_report_generator", srcs = ["coverage_report_generator.sh"])
sh_binary(name = "lcov_merger", srcs = ["lcov_merger.sh"])
sh_binary(name = "Main", srcs = ["lcov_merger.sh"])
""",
        },
    )
    if not native.existing_rule("platforms"):
        native.local_repository(
            name = "platforms",
            path = "/usr/share/bazel/tools/platforms",
        )
