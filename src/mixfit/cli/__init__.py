"""The ``mixfit`` command: ``fit``, ``predict``, ``info``, ``demo`` (see :func:`main`)."""

from mixfit.cli.commands import main

__all__ = ["main"]
