"""What ``mixfit fit`` records about its training data, and ``--standardize``.

A model file holds the estimator; the command line adds two optional pairs of
fields to it (see :mod:`mixfit.io.model_files`): the training data's mean log-likelihood
and sample count, from which ``mixfit info`` reports BIC and AIC without the
data, and the per-column means and standard deviations of ``--standardize``,
which ``mixfit predict`` applies to new data before labelling it.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

from mixfit.cli.describe import format_numbers

__all__ = [
    "CLI_NAN_ADVICE",
    "CLUSTER_NAN_ADVICE",
    "remember_training",
    "standardization",
    "standardize",
    "standardize_like_training",
    "standardize_line",
    "standardize_with_note",
    "training_criteria",
]


#: What a NaN error of the command line adds: the model that takes missing cells.
CLI_NAN_ADVICE = (" Empty or NA cells are missing values: --model gmm fits them as they are "
                  "(exact EM on each row's observed values); K-means cannot.")

#: ... and on a Dask cluster (--scheduler), where no model takes them.
CLUSTER_NAN_ADVICE = (" Empty or NA cells are missing values, which the mixture fits and "
                      "predicts in memory but not on a Dask cluster: drop --scheduler, or "
                      "fill or drop those cells.")


def standardize(X):
    """Z-score the columns of ``X`` with their own means and standard deviations.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training data, finite or NaN (missing; the moments are then those
        of each column's observed values).

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
        ``(X - mean) / scale``, in X's floating dtype (float64 for other dtypes).
    mean, scale : ndarray of shape (n_features,), float64
        The columns' means and population standard deviations; a constant
        column's standard deviation of 0 is replaced by 1, so it becomes zeros
        instead of NaN.
    constant : list of int
        The indices of the constant columns.
    """
    values = np.asarray(X, dtype=np.float64)
    if np.isnan(values).any():
        # Missing cells (for --model gmm): each column's moments over its observed
        # values; NaN stays NaN after the shift. A column with no observed value
        # is left to the estimator's error.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nan_to_num(np.nanmean(values, axis=0))
            scale = np.nan_to_num(np.nanstd(values, axis=0))
    else:
        mean = values.mean(axis=0)
        scale = values.std(axis=0)
    constant = [int(j) for j in np.flatnonzero(~(scale > 0))]
    scale[constant] = 1.0
    return _apply(X, mean, scale), mean, scale, constant


def standardize_like_training(model, X):
    """``X`` z-scored as the model's training data was; ``X`` itself without ``--standardize``."""
    mean = getattr(model, "_standardize_mean", None)
    if mean is None:
        return X
    return _apply(X, np.asarray(mean, dtype=np.float64),
                  np.asarray(model._standardize_scale, dtype=np.float64))


def _apply(X, mean, scale):
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    with np.errstate(over="ignore"):  # the estimator reports values out of range
        return ((np.asarray(X, dtype=np.float64) - mean) / scale).astype(dtype, copy=False)


def remember_training(estimator, n_samples, score=None, mean=None, scale=None):
    """Store in a fitted estimator what ``mixfit info`` later reports about its training data.

    Parameters
    ----------
    estimator : GaussianMixture or KMeans
        The fitted estimator, which is about to be saved.
    n_samples : int
        The number of training samples.
    score : float, optional
        A mixture's mean log-likelihood per training sample (K-means has none).
        Stored with ``n_samples`` as ``_train_score`` and ``_train_n_samples``
        when finite: a model file holds finite numbers only.
    mean, scale : ndarray of shape (n_features,), optional
        The ``--standardize`` means and standard deviations, stored for predict.
    """
    if score is not None and math.isfinite(score):
        estimator._train_score = float(score)
        estimator._train_n_samples = int(n_samples)
    if mean is not None:
        estimator._standardize_mean = [float(value) for value in mean]
        estimator._standardize_scale = [float(value) for value in scale]


def training_criteria(model):
    """``{"bic": ..., "aic": ...}`` on the training data, or ``{}`` when the model lacks its record.

    BIC is ``-2 * n * score + p * log(n)`` and AIC ``-2 * n * score + 2 * p``, with
    ``score`` the training data's mean log-likelihood per sample, ``n`` its
    number of samples and ``p`` the model's number of free parameters: the
    values ``GaussianMixture.bic`` and ``aic`` gave on that data.
    """
    score = getattr(model, "_train_score", None)
    n_samples = getattr(model, "_train_n_samples", None)
    if score is None or n_samples is None or not hasattr(model, "_n_parameters"):
        return {}
    n_parameters = model._n_parameters()
    fit_term = -2.0 * score * n_samples
    return {"training_log_likelihood": score, "training_n_samples": n_samples,
            "bic": fit_term + n_parameters * math.log(n_samples),
            "aic": fit_term + 2.0 * n_parameters}


def standardization(model):
    """``{"means": [...], "stds": [...]}`` of a ``--standardize`` model, else None."""
    mean = getattr(model, "_standardize_mean", None)
    if mean is None:
        return None
    return {"means": list(mean), "stds": list(model._standardize_scale)}


def standardize_with_note(X, names, prog):
    """``(Z, mean, scale)`` of :func:`standardize`; a note on stderr names constant columns."""
    Z, mean, scale, constant = standardize(X)
    if constant:
        listed = ", ".join(repr(names[j]) if names else str(j) for j in constant[:8])
        print(f"{prog}: note: column(s) {listed}{', ...' if len(constant) > 8 else ''} "
              "are constant: their standard deviation of 0 is taken as 1", file=sys.stderr)
    return Z, mean, scale


def standardize_line(described):
    """The ``standardize`` line of ``mixfit info``, from :func:`standardization`."""
    if described is None:
        return "no (parameters in the data's units)"
    return (f"yes: columns z-scored (predict does the same); means "
            f"{format_numbers(described['means'])}, stds {format_numbers(described['stds'])}")
