"""Builds the optional C accelerators; everything else is in pyproject.toml.

Without a C compiler the build is skipped and orm runs its Python versions.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("orm._core", ["orm/_core.c"], optional=True),
                   Extension("orm.engine._lmdbcall", ["orm/engine/_lmdbcall.c"], optional=True)])
