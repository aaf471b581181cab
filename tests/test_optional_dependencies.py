"""The core works without the optional extras (Dask, pyarrow), and says how to get them.

Run in a subprocess in which importing ``dask`` and ``pyarrow`` fails, as on a
machine with only ``pip install mixfit``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["dask"] = None      # import dask -> ImportError
    sys.modules["pyarrow"] = None
    import numpy as np
    from mixfit import GaussianMixture, KMeans, MiniBatchKMeans
    X = np.random.default_rng(0).normal(size=(300, 2))
    GaussianMixture(2, random_state=0).fit(X).predict(X)
    KMeans(2, random_state=0).fit(X).predict(X)
    GaussianMixture(2, random_state=0).partial_fit(X)
    KMeans(2, init="k-means||", random_state=0).fit(X)
    from mixfit.engine.sources import require_dask
    try:
        require_dask()
    except ImportError as error:
        print("MESSAGE", error)
""")


def test_the_core_runs_without_dask_and_pyarrow():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'pip install "mixfit[dask]"' in done.stdout
