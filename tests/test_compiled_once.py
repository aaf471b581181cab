"""``predict`` runs the kernel versions that ``fit`` compiled: numba compiles a
kernel once per combination of argument types, a few seconds each with a cold
cache, so a predict passing other types (int64 labels, float64 placeholders for
float32 data) paid that again on its first call (8.8 s at 20,000 × 16 × 8
float32). Each case runs in a fresh process, where only what ``fit`` ran is loaded."""

import json
import subprocess
import sys

import pytest

_SCRIPT = r"""
import json, sys, warnings
import numpy as np
import numba
import mixfit
from mixfit import kernels
import importlib, pkgutil

def versions():
    found = set()
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module("mixfit.kernels." + info.name)
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                found |= {(info.name, name, str(sig)) for sig in value.signatures}
    return found

warnings.simplefilter("ignore")
estimator, dtype = sys.argv[1], sys.argv[4]
n_features, n_clusters = int(sys.argv[2]), int(sys.argv[3])
X = np.random.default_rng(0).normal(size=(20000, n_features)).astype(dtype)
model = getattr(mixfit, estimator)(n_clusters, random_state=0, n_init=1).fit(X)
before = versions()
labels = model.predict(X)
# Another version of a kernel the fit ran (a kernel only predict runs, such as
# its finite-values check, is compiled once either way).
fitted_kernels = {(module, name) for module, name, _ in before}
new = sorted(list(v) for v in versions() - before if v[:2] in fitted_kernels)
print(json.dumps({"new": new, "agree": bool(np.array_equal(labels, model.labels_))}))
"""


@pytest.mark.parametrize("estimator", ["KMeans", "MiniBatchKMeans"])
@pytest.mark.parametrize("n_features, n_clusters, dtype", [
    (16, 8, "float32"),  # the SIMD micro-kernel
    (16, 8, "float64"),
    (64, 3, "float32"),  # its paired layout
    (2, 3, "float32"),  # the GEMM kernels
    (40, 20, "float64"),
    (2, 3, "float64"),  # the direct kernels
])
def test_predict_compiles_no_kernel_version_that_fit_did_not(estimator, n_features, n_clusters,
                                                            dtype):
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, estimator, str(n_features), str(n_clusters), dtype],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["agree"]
    assert result["new"] == []
