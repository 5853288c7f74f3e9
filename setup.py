"""The optional C fast paths of the codec (routeb.echonet._speedups); metadata is in pyproject.

``optional=True``: without a C compiler or the Python headers the build still succeeds and
routeb runs on its pure-Python codec, which defines the semantics either way (docs/codec.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "routeb.echonet._speedups",
            ["src/routeb/echonet/_speedups.c"],
            optional=True,
            extra_compile_args=[
                "-O2",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
            ],
        )
    ]
)
