"""The statistics of families whose M-step needs only weighted column sums.

Bernoulli and Poisson components (independent features, one mean parameter
per feature) are estimated from the responsibility mass ``n_k`` of each
component and its responsibility-weighted column sums ``Σ z x``: one
statistics class and one way of computing it serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ColumnSumStats", "column_sum_stats", "empty_column_sum_stats"]


@dataclass(frozen=True)
class ColumnSumStats:
    """Weighted count and weighted column sums of each component, float64.

    ``a + b`` is the statistics of the union of the samples behind ``a`` and
    ``b``: both members are plain sums.

    Attributes
    ----------
    resp_sum : ndarray of shape (n_components,)
        Sum over samples of responsibility × sample weight, ``n_k``.
    x_sum : ndarray of shape (n_components, n_features)
        Sum over samples of responsibility × sample weight × x, ``Σ z x``.
    """

    resp_sum: np.ndarray
    x_sum: np.ndarray

    def __add__(self, other):
        if not isinstance(other, ColumnSumStats):
            return NotImplemented
        return ColumnSumStats(self.resp_sum + other.resp_sum, self.x_sum + other.x_sum)

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``."""
        factor = float(factor)
        return ColumnSumStats(self.resp_sum * factor, self.x_sum * factor)


def column_sum_stats(X, resp, sample_weight=None):
    """Statistics of a block of samples (float64 whatever X's dtype).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
        Responsibilities (any non-negative weights per component).
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    ColumnSumStats
    """
    X = np.asarray(X, dtype=np.float64)
    weighted = np.asarray(resp, dtype=np.float64)
    if sample_weight is not None:
        weighted = weighted * np.asarray(sample_weight, dtype=np.float64)[:, None]
    return ColumnSumStats(weighted.sum(axis=0), weighted.T @ X)


def empty_column_sum_stats(n_components, n_features):
    """The zero of ``+``: statistics of no samples."""
    return ColumnSumStats(np.zeros(n_components), np.zeros((n_components, n_features)))
