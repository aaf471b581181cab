"""A fit either completes or leaves the estimator exactly as it was.

A fit that stops half-way — bad data found after ``n_features_in_`` was
reset, a callback that raises, Ctrl-C, a covariance that is not positive
definite — must not leave a fitted estimator whose attributes disagree with
each other (``n_features_in_`` of the new data, ``means_`` of the old fit):
``predict`` would then hand the kernels arrays of different widths. The
estimators build their results in local variables and set them at the end;
this decorator is the guarantee on top, covering whatever a ``fit`` sets
before it fails (scikit-learn's ``validate_data`` sets ``n_features_in_``
and ``feature_names_in_`` first thing).
"""

from __future__ import annotations

import functools

__all__ = ["check_consistent_fit", "forget_data_records", "keeps_state_on_failure"]

#: What `mixfit fit` records about the data a model was fitted on (the columns it
#: chose, the training score, the standardization it applied): a new fit on other
#: data makes them wrong, and a standardization kept by mistake would make
#: `mixfit predict` transform data the model never saw transformed.
DATA_RECORDS = ("_column_indices", "_train_score", "_train_n_samples",
                "_standardize_mean", "_standardize_scale")


def keeps_state_on_failure(fit_method):
    """Wrap a fitting method so that any exception restores the estimator's attributes.

    The attribute dictionary is copied (shallowly) before the call and put back
    if the call raises anything, ``KeyboardInterrupt`` included; the exception
    then propagates unchanged. Fits replace their fitted arrays rather than
    writing into them, so a shallow copy restores the previous model exactly.

    Parameters
    ----------
    fit_method : callable
        ``fit``, ``fit_predict`` or ``fit_transform`` of an estimator.

    Returns
    -------
    callable
        The wrapped method, with the same name, docstring and signature.
    """

    @functools.wraps(fit_method)
    def fit_or_restore(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return fit_method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return fit_or_restore


def check_consistent_fit(estimator, centres):
    """Refuse to predict with fitted attributes that disagree on the number of features.

    A fit cannot leave such a state (see :func:`keeps_state_on_failure`), but a
    user can, by assigning attributes by hand; the kernels would refuse it
    too, with a less helpful message.

    Parameters
    ----------
    estimator : fitted estimator
    centres : str
        The attribute holding one row per component (``means_``, ``cluster_centers_``).

    Raises
    ------
    ValueError
        If ``n_features_in_`` differs from the width of ``centres``.
    """
    width = getattr(estimator, centres).shape[-1]
    if estimator.n_features_in_ != width:
        raise ValueError(
            f"this {type(estimator).__name__} is inconsistent: n_features_in_ is "
            f"{estimator.n_features_in_} but {centres} has {width} column(s), so it cannot "
            "predict; fit it again (or load it from a model file) instead of setting "
            "fitted attributes by hand."
        )


def forget_data_records(estimator):
    """Drop what `mixfit fit` recorded about a previous fit's data (see DATA_RECORDS)."""
    for name in DATA_RECORDS:
        estimator.__dict__.pop(name, None)
