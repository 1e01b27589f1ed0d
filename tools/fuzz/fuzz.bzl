"""kubegrpc_fuzz_test: one fuzz target, two uses.

  bazel test //fuzz:<name>                 replays corpus/<name>/ (any config: g++,
                                           clang, asan) and fails on a crash or a
                                           failed check
  bazel build --config=fuzz //fuzz:<name>  a libFuzzer binary:
    bazel-bin/fuzz/<name> fuzz/corpus/<name> -max_total_time=600

The source defines `extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t)`
and signals a broken property with __builtin_trap() (or a sanitizer report).
"""

load("@rules_cc//cc:defs.bzl", "cc_test")

def kubegrpc_fuzz_test(name, srcs, deps = [], corpus = None, size = "small", **kwargs):
    corpus = corpus or "corpus/" + name
    cc_test(
        name = name,
        size = size,
        srcs = srcs,
        deps = deps + select({
            "//tools/fuzz:fuzzing": [],
            "//conditions:default": ["//tools/fuzz:replay_main"],
        }),
        linkopts = select({
            "//tools/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = native.glob([corpus + "/**"]),
        # Self-contained, so tools/fuzz/run.sh can run a copy of it.
        linkstatic = True,
        # Under --config=fuzz, `bazel test` still only replays: -runs=0 stops
        # libFuzzer once the corpus has been run.
        args = select({
            "//tools/fuzz:fuzzing": ["-runs=0"],
            "//conditions:default": [],
        }) + [native.package_name() + "/" + corpus],
        **kwargs
    )
