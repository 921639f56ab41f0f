"""Builds boostobj's optional compiled kernel; everything else is in pyproject.toml.

Without a C compiler the build warns and goes on (``optional=True``): boostobj then computes
every gradient with numpy (``boostobj.losses.compiled_kernel()`` says which is in use).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    """GCC / Clang: -O3 vectorises the kernel's loop; -fno-trapping-math lets the compiler
    turn its clamps into branch-free selects (boostobj never enables floating-point traps)."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "unix":
            for ext in self.extensions:
                ext.extra_compile_args += ["-O3", "-fno-trapping-math", "-std=c99"]
        super().build_extensions()


setup(
    ext_modules=[Extension("boostobj._kernels", ["boostobj/_kernels.c"], optional=True)],
    cmdclass={"build_ext": BuildExt},
)
