"""Reading large data files: ``read_data`` against the plain whole-file reads it replaced.

Issue 13's "Files": ``mixfit fit`` memory-maps ``.npy`` files, converts raw IDX
files block by block, and reads Parquet batch by batch into one preallocated
array. Each case runs in a fresh process, side by side with its peer:

- ``.npy`` float32 (n × 8): ``read_data`` (a memory map) against ``np.load`` then
  ``astype(float64)`` (what ``read_data`` did before);
- IDX uint8 images (n × 16 pixels): ``read_data`` (memory map, converted block by
  block to float32) against ``mixfit.datasets.read_idx`` then ``astype(float64)``;
- Parquet (n × 8 float64, row groups of 2**20 rows): ``read_data`` against
  ``pyarrow.parquet.read_table`` then ``np.column_stack`` of its columns.

Each process reads the file and then makes one pass over every value (column
sums in float64, as a fit's first pass would), and reports the wall time and the
peak anonymous memory (``RssAnon``, sampled every 5 ms) above its value before
the read, as a multiple of the file's values in float64 (n × d × 8 bytes).
The files are read once before, so that the page cache is warm.

Run (≈ 1 minute on 2 cores)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_data_files.py

``--rows`` changes n (default 4e6).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

CASES = {
    "npy": ("x.npy", 8),
    "idx": ("images-idx2-ubyte", 16),
    "parquet": ("x.parquet", 8),
}


def _rss_anon():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def write_files(folder, n_rows):
    """The three files, written block by block (never whole in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mixfit.datasets import write_idx

    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(os.path.join(folder, "x.npy"), mode="w+",
                                  dtype=np.float32, shape=(n_rows, 8))
    step = 1_000_000
    for start in range(0, n_rows, step):
        X[start:start + step] = rng.normal(size=(min(step, n_rows - start), 8))
    X.flush()
    write_idx(os.path.join(folder, "images-idx2-ubyte"),
              rng.integers(0, 256, size=(n_rows, 16), dtype=np.uint8))
    schema = pa.schema([(f"x{j}", pa.float64()) for j in range(8)])
    with pq.ParquetWriter(os.path.join(folder, "x.parquet"), schema) as writer:
        for start in range(0, n_rows, 2**20):
            block = np.asarray(X[start:start + 2**20], dtype=np.float64)
            writer.write_table(pa.table({f"x{j}": block[:, j] for j in range(8)},
                                        schema=schema), row_group_size=2**20)
    del X


def _peer_read(case, path):
    if case == "npy":
        return np.load(path).astype(np.float64)
    if case == "idx":
        from mixfit.datasets import read_idx

        return read_idx(path).astype(np.float64)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return np.column_stack([column.to_numpy() for column in table.columns])


def child(case, implementation, folder):
    from mixfit.io.data_files import read_data

    path = os.path.join(folder, CASES[case][0])
    with open(path, "rb") as file:  # warm page cache
        while file.read(2**24):
            pass
    before = _rss_anon()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_anon())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    X = read_data(path)[0] if implementation == "mixfit" else _peer_read(case, path)
    sums = np.zeros(X.shape[1])
    for row in range(0, X.shape[0], 2**16):  # one pass over every value
        sums += X[row:row + 2**16].sum(axis=0, dtype=np.float64)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_anon())
    print(json.dumps({"seconds": seconds, "anon_bytes": peak[0] - before,
                      "values_bytes": X.shape[0] * X.shape[1] * 8, "dtype": str(X.dtype),
                      "type": type(X).__name__}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=4e6)
    parser.add_argument("--child", nargs=3, metavar=("CASE", "IMPLEMENTATION", "DIR"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i.get("internal_api"), i.get("version"), i.get("num_threads"))
                    for i in threadpool_info()])
    with tempfile.TemporaryDirectory() as folder:
        write_files(folder, int(args.rows))
        print(f"n = {int(args.rows)}; anon = peak RssAnon added / (n × d × 8 bytes)")
        print(f"{'case':8} {'implementation':14} {'type':8} {'dtype':8} {'seconds':>8} "
              f"{'anon':>6}")
        for case in CASES:
            results = {}
            for implementation in ("peer", "mixfit"):
                output = subprocess.run(
                    [sys.executable, __file__, "--child", case, implementation, folder],
                    check=True, capture_output=True, text=True).stdout
                result = results[implementation] = json.loads(output.splitlines()[-1])
                anon = result["anon_bytes"] / result["values_bytes"]
                print(f"{case:8} {implementation:14} {result['type']:8} {result['dtype']:8} "
                      f"{result['seconds']:8.3f} {anon:6.2f}")
            mixfit, peer = results["mixfit"], results["peer"]
            print(f"{case:8} ratio mixfit/peer: time {mixfit['seconds'] / peer['seconds']:.2f}, "
                  f"anonymous memory "
                  f"{mixfit['anon_bytes'] / max(peer['anon_bytes'], 1):.2f}")


if __name__ == "__main__":
    main()
