"""bzlmod only: the `system` module extension and `system_aliases` for the offline
registry's stand-in modules (../registry/README.md), over system.bzl's table and
repository rule. Kept out of system.bzl, which Bazel 4's WORKSPACE loads too: Bazel 4
has no module_extension or tag_class.
"""

load(":system.bzl", "SYSTEM_LIBRARIES", "system_library_repository")

def _repo(module):
    """The name of the system repository the `system` extension makes for a module."""
    return "system_" + module.replace("-", "_")

def _system_impl(mctx):
    for mod in mctx.modules:
        for tag in mod.tags.library:
            if tag.module not in SYSTEM_LIBRARIES:
                fail("kube-grpc: no system library is known as module %r (known: %s)" %
                     (tag.module, ", ".join(sorted(SYSTEM_LIBRARIES.keys()))))
            system_library_repository(_repo(tag.module), tag.module)

system = module_extension(
    implementation = _system_impl,
    tag_classes = {
        "library": tag_class(
            attrs = {"module": attr.string(mandatory = True, doc = "A key of SYSTEM_LIBRARIES.")},
            doc = "Makes @system_<module> (dashes become underscores) over the system library.",
        ),
    },
    doc = "Repositories over Debian's system libraries, for the offline registry's stand-ins.",
)

def system_aliases(module):
    """In a stand-in module's BUILD file: an alias per target of `module` in this package.

    Each alias points into `@system_<module>` (made by the `system` extension), so the
    stand-in has the upstream module's labels, e.g. `@grpc//:grpc++` or
    `@abseil-cpp//absl/strings:str_format`.
    """
    pkg = native.package_name()
    spec = SYSTEM_LIBRARIES[module]
    names = list(spec.get("libraries", {}).keys()) + list(spec.get("tools", {}).keys())
    for label in names:
        label_pkg, _, name = label.partition(":")
        if label_pkg == pkg:
            native.alias(
                name = name,
                actual = "@%s//%s:%s" % (_repo(module), label_pkg, name),
                visibility = ["//visibility:public"],
            )
