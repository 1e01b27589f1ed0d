"""`kubegrpc_cc_grpc_library`: C++ message and gRPC service code from .proto files.

Usage (in a BUILD file next to the .proto files):

    load("//tools/bazel:proto.bzl", "kubegrpc_cc_grpc_library")

    kubegrpc_cc_grpc_library(
        name = "echo_cc_grpc",
        srcs = ["echo.proto"],
    )

and in C++: `#include "testing/proto/echo.grpc.pb.h"` (the path of the .proto within
its repository, with `.grpc.pb.h` / `.pb.h`). Runs `@com_google_protobuf//:protoc` with
`@com_github_grpc_grpc//src/compiler:grpc_cpp_plugin`, so it works both with
`kubegrpc_system_deps()` and with gRPC and protobuf built from source. The .proto files
must live in the package that calls the macro; `deps` name other
`kubegrpc_cc_grpc_library` targets whose protos these import.
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

ProtoSourcesInfo = provider(
    doc = "The .proto files of a kubegrpc_cc_grpc_library and of everything it imports.",
    fields = {"transitive": "depset of .proto Files"},
)

def _repo_relative(f):
    """Path of a source file relative to the root of its repository."""
    root = f.owner.workspace_root
    return f.path[len(root) + 1:] if root else f.path

def _cc_grpc_codegen_impl(ctx):
    root = ctx.label.workspace_root
    transitive = depset(
        ctx.files.srcs,
        transitive = [d[ProtoSourcesInfo].transitive for d in ctx.attr.deps],
    )
    for src in ctx.files.srcs:
        if src.owner.package != ctx.label.package:
            fail("%s: %s must be in package //%s" % (ctx.label, src.short_path, ctx.label.package))
    outputs = ctx.outputs.outs

    out_dir = ctx.bin_dir.path + ("/" + root if root else "")
    include_roots = {(f.owner.workspace_root or "."): True for f in transitive.to_list()}
    args = ctx.actions.args()
    for inc in include_roots:
        args.add("-I" + inc)
    args.add("--cpp_out=" + out_dir)
    tools = [ctx.executable._protoc]
    if ctx.attr.grpc:
        args.add("--plugin=protoc-gen-grpc=" + ctx.executable._grpc_plugin.path)
        args.add("--grpc_out=" + out_dir)
        tools.append(ctx.executable._grpc_plugin)
    args.add_all([_repo_relative(f) for f in ctx.files.srcs])

    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = transitive,
        tools = tools,
        outputs = outputs,
        mnemonic = "KubegrpcProtoc",
        progress_message = "Generating C++ protobuf/gRPC code for %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset(outputs)),
        ProtoSourcesInfo(transitive = transitive),
    ]

_cc_grpc_codegen = rule(
    implementation = _cc_grpc_codegen_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"], mandatory = True),
        "deps": attr.label_list(providers = [ProtoSourcesInfo]),
        "grpc": attr.bool(default = True),
        "outs": attr.output_list(doc = "What protoc writes for srcs, as the macro names it."),
        "_protoc": attr.label(
            default = Label("@com_google_protobuf//:protoc"),
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
        "_grpc_plugin": attr.label(
            default = Label("@com_github_grpc_grpc//src/compiler:grpc_cpp_plugin"),
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
    },
)

def kubegrpc_cc_grpc_library(name, srcs, deps = [], grpc = True, visibility = None, testonly = False, copts = []):
    """A cc_library with the message (and, if `grpc`, service) code of `srcs`.

    Args:
      name: the cc_library; `<name>_codegen` is the generating rule.
      srcs: .proto files in this package.
      deps: other kubegrpc_cc_grpc_library targets whose .proto files these import.
      grpc: also generate gRPC service stubs (`.grpc.pb.h`).
      visibility: of the cc_library.
      testonly: as for any rule.
      copts: for compiling the generated code (e.g. ["-w"] for third-party protos).
    """
    stems = [s[:-len(".proto")].split(":")[-1] for s in srcs]
    hdrs = [s + e for s in stems for e in [".pb.h"] + ([".grpc.pb.h"] if grpc else [])]
    cc_srcs = [s + e for s in stems for e in [".pb.cc"] + ([".grpc.pb.cc"] if grpc else [])]
    _cc_grpc_codegen(
        name = name + "_codegen",
        srcs = srcs,
        deps = [d + "_codegen" for d in deps],
        grpc = grpc,
        outs = hdrs + cc_srcs,
        testonly = testonly,
        visibility = visibility,
    )
    lib_deps = [Label("@com_google_protobuf//:protobuf")]
    if grpc:
        lib_deps.append(Label("@com_github_grpc_grpc//:grpc++"))
    cc_library(
        name = name,
        srcs = cc_srcs,
        hdrs = hdrs,
        deps = deps + lib_deps,
        copts = copts,
        visibility = visibility,
        testonly = testonly,
    )
