"""Packages and the optional C accelerators; everything else is in pyproject.toml.

The numbered migration steps live in ``migrations/`` at the top of the
repository and install as ``cfxstore.migrations``, so a wheel adds no
top-level module but ``cfxstore`` and ``orm``. Without a C compiler the
extension build is skipped and orm runs its Python versions.
"""

from setuptools import Extension, find_packages, setup

setup(packages=find_packages(include=["orm", "orm.*", "cfxstore", "cfxstore.*"]) + ["cfxstore.migrations"],
      package_dir={"cfxstore.migrations": "migrations"},
      ext_modules=[Extension("orm._core", ["orm/_core.c"], optional=True),
                   Extension("orm.engine._lmdbcall", ["orm/engine/_lmdbcall.c"], optional=True)])
