"""Offline stand-in for buildozer's `buildozer_binary` extension (bazel_tools uses it
for `bazel mod tidy`). The repository it makes has a `buildozer` that says it is not
available offline, instead of downloading a binary."""

def _impl(rctx):
    rctx.file("buildozer", "#!/bin/sh\necho 'buildozer is not available offline (kube-grpc registry stand-in)' >&2\nexit 1\n", executable = True)
    rctx.file("BUILD.bazel", "exports_files([\"buildozer\"])\n")

_buildozer_binary_repository = repository_rule(implementation = _impl)

def _extension_impl(mctx):
    _buildozer_binary_repository(name = "buildozer_binary")

buildozer_binary = module_extension(implementation = _extension_impl)
