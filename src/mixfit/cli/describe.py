"""What the command line says about a model: its kind, settings and parameters.

``mixfit fit`` and ``mixfit info`` print these as a table or as JSON; the
functions here turn a fitted estimator into plain values for either.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CONVERGED",
    "MAX_LISTED_VALUES",
    "centres",
    "changed_parameters",
    "fit_document",
    "fit_summary",
    "format_numbers",
    "jsonable",
    "model_dtype",
    "model_header",
    "parameter_summary",
    "table",
]

#: Parameters are listed in full only up to this many numbers (K·d); beyond,
#: summaries give their shapes.
MAX_LISTED_VALUES = 1000

#: How a fit's convergence reads in a summary.
CONVERGED = {True: "converged", False: "NOT converged"}


def model_header(model):
    """model ("gmm", "kmeans"), n_components and, for mixtures, covariance_type.

    An AutoGaussianMixture is described by the mixture it chose (its
    ``n_components_`` and ``covariance_type_``) and the criterion that chose it.
    """
    name = type(model).__name__
    if name == "AutoGaussianMixture":
        return {"model": "gmm", "n_components": int(model.n_components_),
                "covariance_type": model.covariance_type_, "chosen_by": model.criterion}
    header = {"model": {"GaussianMixture": "gmm", "KMeans": "kmeans",
                        "MiniBatchKMeans": "kmeans"}.get(name, name),
              "n_components": int(getattr(model, "n_components", getattr(model, "n_clusters", 0)))}
    if hasattr(model, "covariance_type"):
        header["covariance_type"] = model.covariance_type
    return header


def centres(model):
    """The model's component centres: ``means_`` of a mixture, ``cluster_centers_`` of K-means."""
    return model.means_ if hasattr(model, "means_") else model.cluster_centers_


def model_dtype(model):
    """The dtype of the model's parameters (a family mixture may have no centres)."""
    return np.asarray(model.weights_ if hasattr(model, "weights_") else centres(model)).dtype


def _component_arrays(model):
    """``{name: array}`` of the fitted component parameters.

    A family mixture (MixtureModel and its shortcuts) has those its family
    names (``probabilities``, ``rates``, ``means``…; a categorical model's
    ``probabilities`` is a list of arrays, one per column); a Gaussian mixture
    its means and covariances; K-means its centres.
    """
    if hasattr(model, "_fitted_family"):
        from mixfit.families.values import parameter_names

        return {name: getattr(model, name + "_")
                for name in parameter_names(model._fitted_family())}
    arrays = {"means" if hasattr(model, "means_") else "cluster_centers": centres(model)}
    if hasattr(model, "covariances_"):
        arrays["covariances"] = model.covariances_
    return arrays


def _size(value):
    return sum(np.size(part) for part in value) if isinstance(value, list) else value.size


def _listed(value):
    return [part.tolist() for part in value] if isinstance(value, list) else value.tolist()


def _shape(value):
    return ([list(np.shape(part)) for part in value] if isinstance(value, list)
            else list(value.shape))


def parameter_summary(model):
    """Weights and component parameters as lists, or only their shapes when there are too many.

    A mixture's ``covariances`` are ``covariances_`` as nested lists, in the layout
    its ``covariance_type`` gives them (see ``GaussianMixture``); K-means has none.
    """
    arrays = {}
    if hasattr(model, "weights_"):
        arrays["weights"] = model.weights_
    arrays.update(_component_arrays(model))
    # The weights (K numbers, below K*d) are not counted: the rule reads as K*d.
    n_values = sum(_size(value) for name, value in arrays.items() if name != "weights")
    if n_values <= MAX_LISTED_VALUES:
        return {name: _listed(value) for name, value in arrays.items()}
    return {
        "shapes": {name: _shape(value) for name, value in arrays.items()},
        "note": f"the centres and covariances hold {n_values} numbers, more than "
        f"{MAX_LISTED_VALUES}: shapes only; load the model file with mixfit.io.load "
        "for the values",
    }


def changed_parameters(model):
    """The constructor parameters that differ from their defaults (callback left out)."""
    defaults = type(model)().get_params()
    changed = {}
    for name, value in model.get_params().items():
        default = defaults.get(name)
        if name == "callback" or value is default:
            continue
        try:
            same = bool(value == default)
        except (TypeError, ValueError):  # arrays compare element-wise
            same = False
        if not same:
            changed[name] = value
    return changed


def format_numbers(value):
    """A number, or nested lists of numbers, written with four significant digits."""
    if isinstance(value, list):
        return "[" + ", ".join(format_numbers(item) for item in value) + "]"
    return f"{value:.4g}"


def jsonable(value):
    """``value`` with numpy types made plain and non-finite floats made null."""
    import numpy as np

    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.size > MAX_LISTED_VALUES:
            return f"array of shape {list(value.shape)}"
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def table(rows):
    """``(name, value)`` rows as aligned text lines, the layout of fit's and info's summaries."""
    return "\n".join(f"{name:<15} {value}" for name, value in rows)


def fit_summary(document, data_path, labels_path=None):
    """The text ``mixfit fit`` prints: the fit ``document`` of the data at ``data_path``."""
    kind = document["model"]
    model = f"{kind}, K={document['n_components']}"
    if kind == "gmm":
        model += f", covariance {document['covariance_type']}"
    data = f"{data_path}: {document['n_samples']} samples x {document['n_features']} features"
    names = document["columns"]
    if names:
        data += f" ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"
    rows = [("model", model), ("data", data),
            ("iterations", f"{document['n_iter']}, {CONVERGED[document['converged']]}")]
    if kind == "gmm":
        rows += [("log-likelihood", f"{document['log_likelihood']:.6g} per sample"),
                 ("BIC, AIC", f"{document['bic']:.6g}, {document['aic']:.6g}")]
    else:
        rows.append(("inertia", f"{document['inertia']:.6g}"))
    if document.get("standardize") is not None:
        rows.append(("standardize", "yes: parameters are in standardized units"))
    rows.append(("time", f"{document['time_seconds']:.3g} s"))
    rows.append(("model file", document["model_path"] or "not saved (use --out MODEL)"))
    if labels_path:
        rows.append(("labels", str(labels_path)))
    return table(rows)


def fit_document(estimator, X, names, seconds, scheduler=None):
    """What ``mixfit fit`` reports about a fit on ``X`` (its JSON document, its summary).

    ``X`` is the training data (an array, a memory map or a Dask array; it is
    read once, for a mixture's log-likelihood), ``names`` its columns' names,
    ``seconds`` the fit's time and ``scheduler`` the Dask scheduler's address
    the fit ran on (recorded when given).
    """
    import numpy as np

    from mixfit.estimators._far_rows import criterion

    n_samples = int(X.shape[0])
    document = model_header(estimator)
    document.update(n_samples=n_samples, n_features=int(X.shape[1]), columns=names,
                    parameters=parameter_summary(estimator), n_iter=int(estimator.n_iter_),
                    converged=bool(estimator.converged_))
    if document["model"] == "gmm":
        # One pass over X for the three numbers: BIC and AIC as GaussianMixture.bic
        # and .aic compute them from the score.
        score, n_parameters = float(estimator.score(X)), estimator._n_parameters()
        document.update(log_likelihood=score,
                        bic=criterion("bic", score, n_samples, n_parameters * np.log(n_samples)),
                        aic=criterion("aic", score, n_samples, 2 * n_parameters))
    else:
        document["inertia"] = estimator.inertia_
    document.update(time_seconds=round(seconds, 4), model_path=None)
    if scheduler is not None:
        document["scheduler"] = scheduler
    return document
