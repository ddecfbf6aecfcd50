"""Builds the optional C accelerator orm._core; everything else is in pyproject.toml.

Without a C compiler the build is skipped and orm runs its Python version.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("orm._core", ["orm/_core.c"], optional=True)])
