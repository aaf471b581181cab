"""Numba kernels: fused passes over blocks of rows, pure functions over arrays.

The bottom layer of the package: modules here import only numpy, numba and
:mod:`mixfit._parallel` / :mod:`mixfit._validation`, never a layer above
(families, engine, estimators). Every kernel checks the shapes it will index
(:mod:`mixfit.kernels.checks`), so a caller's mistake raises instead of
corrupting memory.
"""
