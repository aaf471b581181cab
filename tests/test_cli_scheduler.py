"""``mixfit fit/predict --scheduler``: fits on a Dask cluster whose workers read the file.

One LocalCluster of two worker processes serves the module (it costs seconds),
so that the tests exercise real worker processes and serialisation.
"""

import json
import socket
import sys
import time

import numpy as np
import pytest

from mixfit.cli import commands as cli

pytest.importorskip("dask.distributed")


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def closed_port():
    """A 127.0.0.1 port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def two_blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(n // 2, 3)), rng.normal(size=(n // 2, 3)) + 6.0])


def test_unreachable_scheduler_exits_2_within_the_timeout(tmp_path, capsys):
    np.save(tmp_path / "x.npy", two_blobs())
    start = time.monotonic()
    code, out, err = run_cli(capsys, "fit", tmp_path / "x.npy", "--scheduler",
                             f"tcp://127.0.0.1:{closed_port()}", "--scheduler-timeout", "1")
    assert time.monotonic() - start < 10  # 1 s of retries, plus Dask's import
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:" in err
    assert "--scheduler-timeout" in err


def test_scheduler_options_are_checked_before_connecting(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("1,2\n3,4\n5,6\n")
    address = f"tcp://127.0.0.1:{closed_port()}"
    # Refused for the file's format, without waiting for the (closed) scheduler.
    code, _, err = run_cli(capsys, "fit", tmp_path / "d.csv", "--scheduler", address,
                           "--scheduler-timeout", "30")
    assert code == 2 and "delimited text" in err and "save it as .npy" in err
    code, _, err = run_cli(capsys, "fit", tmp_path / "d.csv", "--scheduler-timeout", "5")
    assert code == 2 and "--scheduler-timeout applies with --scheduler only" in err
    code, _, err = run_cli(capsys, "fit", tmp_path / "d.csv", "--scheduler", address,
                           "--scheduler-timeout", "0")
    assert code == 2 and "must be a number of seconds > 0" in err
    code, _, err = run_cli(capsys, "fit", tmp_path / "d.csv", "--scheduler", address,
                           "--delimiter", ",")
    assert code == 2 and "--delimiter applies to .npz or text files" in err


def test_scheduler_without_dask_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", two_blobs())
    monkeypatch.setitem(sys.modules, "dask", None)
    code, _, err = run_cli(capsys, "fit", tmp_path / "x.npy", "--scheduler", "tcp://x:1")
    assert code == 2 and err.count("\n") == 1
    assert 'pip install "mixfit[dask]"' in err


@pytest.fixture(scope="module")
def scheduler():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
def test_fit_on_a_cluster_equals_the_local_fit(tmp_path, capsys, scheduler, model):
    data = tmp_path / "x.npy"
    np.save(data, two_blobs())
    documents, labels = [], []
    for extra in ([], ["--scheduler", scheduler]):
        code, out, err = run_cli(capsys, "fit", data, "--model", model, "-k", 2, "--json",
                                 "--labels", tmp_path / "labels.csv", *extra)
        assert code == 0, err
        documents.append(json.loads(out))
        labels.append((tmp_path / "labels.csv").read_text())
    local, remote = documents
    assert remote["scheduler"] == scheduler and "scheduler" not in local
    assert remote["n_samples"] == 120 and remote["n_iter"] == local["n_iter"]
    for key in ("log_likelihood", "bic", "aic", "inertia"):
        if key in local:
            assert remote[key] == pytest.approx(local[key], rel=1e-9), key
    for name, value in local["parameters"].items():
        if name != "note":
            np.testing.assert_allclose(remote["parameters"][name], value, rtol=1e-9)
    assert labels[0] == labels[1]


def test_predict_on_a_cluster_with_parquet_and_standardize(tmp_path, capsys, scheduler):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X = two_blobs()
    data, model = tmp_path / "d.parquet", tmp_path / "m.mixfit"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]}), data,
                   row_group_size=50)
    code, _, err = run_cli(capsys, "fit", data, "--columns", "c,a", "-k", 2, "--standardize",
                           "--out", model, "--scheduler", scheduler)
    assert code == 0, err
    # The cluster's means and standard deviations are the local ones.
    code, _, err = run_cli(capsys, "fit", data, "--columns", "c,a", "-k", 2, "--standardize",
                           "--out", tmp_path / "local.mixfit")
    infos = [json.loads(run_cli(capsys, "info", path, "--json")[1])["standardize"]
             for path in (model, tmp_path / "local.mixfit")]
    for key in ("means", "stds"):
        np.testing.assert_allclose(infos[0][key], infos[1][key], rtol=1e-12)
    outputs = []
    for extra in ([], ["--scheduler", scheduler]):
        code, out, err = run_cli(capsys, "predict", model, data, "--proba", *extra)
        assert code == 0, err
        outputs.append(np.loadtxt(out.splitlines()[1:], delimiter=","))
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-9, atol=1e-12)
    assert sorted(np.bincount(outputs[1].argmax(axis=1))) == [60, 60]


def test_nan_on_a_cluster_is_the_local_error(tmp_path, capsys, scheduler):
    X = two_blobs()
    X[[3, 70], 1] = np.nan
    np.save(tmp_path / "x.npy", X)
    # K-means refuses NaN wherever it runs (a mixture takes it in memory only).
    code, _, local = run_cli(capsys, "fit", tmp_path / "x.npy", "--model", "kmeans")
    code_remote, _, remote = run_cli(capsys, "fit", tmp_path / "x.npy", "--model", "kmeans",
                                     "--scheduler", scheduler)
    assert code == code_remote == 2
    assert remote == local and "2 NaN value(s), in column(s) 1" in remote
