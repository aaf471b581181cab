"""Tests of mixfit.datasets: the mixture generator, the lecture's data, IDX and MNIST."""

import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mixfit.datasets import (
    LECTURE_MEANS,
    lecture_data,
    load_mnist,
    make_mixture,
    read_idx,
    write_idx,
)

# Every check on a random draw allows this many standard errors: a correct generator
# fails one such check with probability ~6e-7, a wrong one is off by far more.
N_SE = 5.0


# --------------------------------------------------------------------------- #
# make_mixture: moments of a large draw against the asked parameters
# --------------------------------------------------------------------------- #

def assert_weights_match(y, weights):
    n = len(y)
    weights = np.asarray(weights)
    observed = np.bincount(y, minlength=len(weights)) / n
    # A component's count is Binomial(n, w_k).
    se = np.sqrt(weights * (1 - weights) / n)
    np.testing.assert_array_less(np.abs(observed - weights), N_SE * se + 1e-12)


def assert_component_moments(X, y, means, covariances):
    for k, (mean, cov) in enumerate(zip(np.asarray(means), np.asarray(covariances))):
        Xk = X[y == k]
        n_k = len(Xk)
        # Standard error of a sample mean: sqrt(Var / n).
        se_mean = np.sqrt(np.diag(cov) / n_k)
        np.testing.assert_array_less(np.abs(Xk.mean(axis=0) - mean), N_SE * se_mean + 1e-12)
        # Gaussian data: Var(S_ij) = (C_ii C_jj + C_ij^2) / (n - 1).
        var_diag = np.diag(cov)
        se_cov = np.sqrt((np.outer(var_diag, var_diag) + cov**2) / (n_k - 1))
        sample_cov = np.atleast_2d(np.cov(Xk, rowvar=False))
        np.testing.assert_array_less(np.abs(sample_cov - cov), N_SE * se_cov + 1e-12)


def test_unequal_weights_are_honoured():
    weights = [0.7, 0.2, 0.1]
    means = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]
    _, y = make_mixture(200_000, weights, means, random_state=1)
    assert_weights_match(y, weights)
    # A generator that ignored the prior would be off by 0.37 here, far beyond 5 se.
    counts = np.bincount(y)
    assert counts[0] > 3 * counts[1] > 3 * counts[2]


def test_identity_covariance_by_default():
    means = np.array([[1.0, -2.0, 3.0], [-4.0, 0.5, 0.0]])
    X, y = make_mixture(200_000, [0.4, 0.6], means, random_state=2)
    assert X.shape == (200_000, 3) and X.dtype == np.float64
    assert y.shape == (200_000,) and y.dtype == np.int64
    assert_weights_match(y, [0.4, 0.6])
    assert_component_moments(X, y, means, [np.eye(3)] * 2)


def test_per_component_covariances():
    rng = np.random.default_rng(3)
    factors = rng.normal(size=(3, 3, 3))
    covariances = factors @ factors.transpose(0, 2, 1) + 0.1 * np.eye(3)
    means = rng.normal(size=(3, 3)) * 5
    weights = [0.5, 0.3, 0.2]
    X, y = make_mixture(200_000, weights, means, covariances=covariances, random_state=4)
    assert_weights_match(y, weights)
    assert_component_moments(X, y, means, covariances)


def test_singular_covariance_is_allowed_and_stays_in_its_subspace():
    # Rank 1: all the spread along (1, 2); Cholesky fails, the eigh fallback must not.
    direction = np.array([1.0, 2.0])
    covariance = np.outer(direction, direction)
    X, y = make_mixture(200_000, [1.0], [[3.0, -1.0]], covariances=[covariance],
                        random_state=5)
    centred = X - [3.0, -1.0]
    normal = np.array([2.0, -1.0])  # orthogonal to the direction
    assert np.max(np.abs(centred @ normal)) < 1e-9
    assert_component_moments(X, y, [[3.0, -1.0]], [covariance])


def test_shared_transform_gives_covariance_A_At():
    A = np.array([[1.5, 0.0], [-2.0, 0.5]])
    means = [[0.0, 0.0], [20.0, 20.0]]
    X, y = make_mixture(200_000, [0.3, 0.7], means, transform=A, random_state=6)
    assert_component_moments(X, y, means, [A @ A.T] * 2)


def test_one_dimensional_data():
    X, y = make_mixture(200_000, [0.25, 0.75], [[-3.0], [2.0]],
                        covariances=[[[0.25]], [[4.0]]], random_state=7)
    assert X.shape == (200_000, 1)
    assert_weights_match(y, [0.25, 0.75])
    assert_component_moments(X, y, [[-3.0], [2.0]], [[[0.25]], [[4.0]]])


def test_zero_weight_component_is_never_drawn():
    _, y = make_mixture(10_000, [0.5, 0.0, 0.5], [[0.0], [1.0], [2.0]], random_state=0)
    assert not np.any(y == 1)


def test_reproducible_with_random_state():
    args = (500, [0.2, 0.8], [[0.0, 0.0], [3.0, 3.0]])
    X1, y1 = make_mixture(*args, random_state=11)
    X2, y2 = make_mixture(*args, random_state=11)
    X3, y3 = make_mixture(*args, random_state=np.random.RandomState(11))
    X4, _ = make_mixture(*args, random_state=12)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(X1, X3)
    np.testing.assert_array_equal(y1, y3)
    assert not np.allclose(X1, X4)


GOOD = dict(n_samples=10, weights=[0.5, 0.5], means=[[0.0, 0.0], [1.0, 1.0]])
BAD_ARGUMENTS = [
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(n_samples=2.5), TypeError, "n_samples"),
    (dict(n_samples=True), TypeError, "n_samples"),
    (dict(weights=[[0.5, 0.5]]), ValueError, "weights must be a non-empty 1-D"),
    (dict(weights=[]), ValueError, "weights must be a non-empty 1-D"),
    (dict(weights=["a", "b"]), TypeError, "weights must be a numeric"),
    (dict(weights=[1.5, -0.5]), ValueError, "weights must be non-negative"),
    (dict(weights=[np.nan, 1.0]), ValueError, "weights contains NaN"),
    (dict(weights=[0.5, 0.6]), ValueError, "normalise it"),
    (dict(weights=[0.5, 0.5 + 1e-6]), ValueError, "sum to 1"),
    (dict(means=[0.0, 1.0]), ValueError, "np.reshape(means, (-1, 1))"),
    (dict(means=[[0.0, 0.0]]), ValueError, "one row per component"),
    (dict(means=np.zeros((2, 0))), ValueError, "n_features >= 1"),
    (dict(means=[[0.0, np.inf], [1.0, 1.0]]), ValueError, "means contains NaN or infinity"),
    (dict(covariances=np.eye(2)), ValueError, "covariances must have shape"),
    (dict(covariances=np.ones((2, 3, 3))), ValueError, "covariances must have shape"),
    (dict(covariances=[[[1, 0.5], [0, 1]], np.eye(2)]), ValueError, "covariances[0] is not symmetric"),
    (dict(covariances=[np.eye(2), [[1, 2], [2, 1]]]), ValueError,
     "covariances[1] is not positive semi-definite"),
    (dict(covariances=[np.eye(2), [[np.nan, 0], [0, 1]]]), ValueError, "covariances contains NaN"),
    (dict(transform=np.eye(3)), ValueError, "transform must be a square matrix"),
    (dict(transform=[[1.0, np.nan], [0.0, 1.0]]), ValueError, "transform contains NaN"),
    (dict(transform=np.eye(2), covariances=[np.eye(2)] * 2), ValueError, "not both"),
    (dict(random_state="seed"), ValueError, "seed"),
]


@pytest.mark.parametrize("change, error, fragment", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_with_a_clear_message(change, error, fragment):
    with pytest.raises(error) as info:
        make_mixture(**{**GOOD, **change})
    assert fragment in str(info.value)


def test_weights_within_tolerance_are_accepted():
    _, y = make_mixture(100, [1 / 3, 1 / 3, 1 / 3 + 5e-9], [[0.0], [1.0], [2.0]],
                        random_state=0)
    assert set(np.unique(y)) <= {0, 1, 2}


# --------------------------------------------------------------------------- #
# lecture_data
# --------------------------------------------------------------------------- #

def test_lecture_means_are_one_row_per_component_and_read_only():
    np.testing.assert_array_equal(LECTURE_MEANS, [[-2, 2], [2, -2], [4, 4]])
    with pytest.raises(ValueError):
        LECTURE_MEANS[0, 0] = 0.0


@pytest.mark.parametrize("kind", ["blobs", "poor_init", "non_spherical"])
def test_lecture_data_shapes_and_reproducibility(kind):
    X, y = lecture_data(kind)
    assert X.shape == (1000, 2) and X.dtype == np.float64
    assert y.shape == (1000,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1, 2}
    X2, y2 = lecture_data(kind, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.allclose(X, lecture_data(kind, random_state=1)[0])


def test_lecture_blobs_have_the_lecture_moments():
    X, y = lecture_data("blobs")
    assert_weights_match(y, [1 / 3] * 3)
    assert_component_moments(X, y, LECTURE_MEANS, [np.eye(2)] * 3)


def test_poor_init_is_the_blobs_data():
    X, y = lecture_data("blobs", random_state=3)
    Xp, yp = lecture_data("poor_init", random_state=3)
    np.testing.assert_array_equal(X, Xp)
    np.testing.assert_array_equal(y, yp)


def test_non_spherical_uses_a_transform_from_the_same_random_state():
    X, y = lecture_data("non_spherical", random_state=0)
    blobs, _ = lecture_data("blobs", random_state=0)
    assert not np.allclose(X, blobs)
    rng = np.random.RandomState(0)
    A = 1.4 * rng.standard_normal((2, 2))
    expected_X, expected_y = make_mixture(1000, [1 / 3] * 3, LECTURE_MEANS, transform=A,
                                          random_state=rng)
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(y, expected_y)
    assert_component_moments(X, y, LECTURE_MEANS, [A @ A.T] * 3)


def test_unknown_lecture_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="'blobs', 'poor_init', 'non_spherical'"):
        lecture_data("spherical")


# --------------------------------------------------------------------------- #
# IDX
# --------------------------------------------------------------------------- #

IDX_DTYPES = {
    0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16,
    0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64,
}


def sample_array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=size, endpoint=True, dtype=dtype)
        if size >= 2:
            values[:2] = info.min, info.max  # the extremes must survive the byte order
    else:
        values = rng.normal(scale=1e3, size=size).astype(dtype)
        if size >= 3:
            values[:3] = np.inf, -np.inf, np.finfo(dtype).tiny
    return values.reshape(shape)


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("code", sorted(IDX_DTYPES), ids=lambda c: f"0x{c:02X}")
def test_round_trip_every_type_and_rank(tmp_path, code, rank, compressed):
    dtype = IDX_DTYPES[code]
    array = sample_array(dtype, (3, 2, 4, 5)[:rank], seed=code + rank)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    write_idx(path, array)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == compressed
    header = gzip.decompress(raw)[:4] if compressed else raw[:4]
    assert header == bytes([0, 0, code, rank])
    result = read_idx(path)
    assert result.dtype == dtype and result.dtype.isnative
    assert result.shape == array.shape
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable


@settings(max_examples=50, deadline=None)
@given(array=hnp.arrays(
    dtype=st.sampled_from([np.dtype(d).newbyteorder(order) for d in IDX_DTYPES.values()
                           for order in "<>"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
))
def test_round_trip_any_array_through_a_file_object(array):
    buffer = io.BytesIO()
    write_idx(buffer, array)
    buffer.seek(0)
    result = read_idx(buffer)
    assert result.dtype == array.dtype.newbyteorder("=") and result.dtype.isnative
    assert result.shape == array.shape
    np.testing.assert_array_equal(result, array)


def test_big_endian_bytes_built_by_hand():
    data = (struct.pack(">BBBB", 0, 0, 0x0B, 2) + struct.pack(">II", 2, 3)
            + struct.pack(">6h", 1, 258, -2, 32767, -32768, 0))
    expected = np.array([[1, 258, -2], [32767, -32768, 0]], dtype=np.int16)
    np.testing.assert_array_equal(read_idx(io.BytesIO(data)), expected)
    buffer = io.BytesIO()
    write_idx(buffer, expected)
    assert buffer.getvalue() == data


@pytest.mark.parametrize("code, fmt, values", [
    (0x0C, ">3i", (1, -16909060, 2**31 - 1)),
    (0x0D, ">3f", (1.5, -2.25, 3.0e38)),
    (0x0E, ">3d", (1.5, -1e-300, 2.0**100)),
    (0x09, ">3b", (-128, 127, -1)),
])
def test_more_hand_built_big_endian_files(code, fmt, values):
    data = struct.pack(">BBBBI", 0, 0, code, 1, 3) + struct.pack(fmt, *values)
    result = read_idx(io.BytesIO(data))
    np.testing.assert_array_equal(result, np.array(values, dtype=IDX_DTYPES[code]))


def test_mnist_style_header_is_read():
    data = struct.pack(">IIII", 0x00000803, 2, 2, 2) + bytes(range(8))
    result = read_idx(io.BytesIO(gzip.compress(data)))
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, np.arange(8, dtype=np.uint8).reshape(2, 2, 2))


def test_rank_zero_is_a_scalar_and_empty_dimensions_work():
    for array in (np.array(2.5), np.zeros((0, 3), np.int32), np.zeros((4, 0), np.uint8)):
        buffer = io.BytesIO()
        write_idx(buffer, array)
        buffer.seek(0)
        result = read_idx(buffer)
        assert result.shape == array.shape and result.dtype == array.dtype
        np.testing.assert_array_equal(result, array)


def test_paths_and_file_objects(tmp_path):
    array = sample_array(np.int32, (4, 3))
    raw_path, gz_path = tmp_path / "x-idx2", tmp_path / "x-idx2.gz"
    write_idx(str(raw_path), array)
    write_idx(gz_path, array)
    # Gzip is detected from the bytes, not from the name.
    renamed = tmp_path / "no-extension"
    renamed.write_bytes(gz_path.read_bytes())
    for source in (raw_path, str(raw_path), gz_path, str(gz_path), renamed):
        np.testing.assert_array_equal(read_idx(source), array)
    for path in (raw_path, gz_path):
        with open(path, "rb") as file:
            np.testing.assert_array_equal(read_idx(file), array)
    with gzip.open(gz_path, "rb") as file:
        np.testing.assert_array_equal(read_idx(file), array)
    np.testing.assert_array_equal(read_idx(io.BytesIO(gz_path.read_bytes())), array)


def test_gzip_output_is_reproducible(tmp_path):
    array = sample_array(np.float32, (5, 5))
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == \
        gzip.decompress((tmp_path / "b.gz").read_bytes())
    assert (tmp_path / "a.gz").read_bytes()[4:8] == b"\0\0\0\0"  # mtime 0


def good_idx_bytes():
    return struct.pack(">BBBBII", 0, 0, 0x0B, 2, 2, 3) + struct.pack(">6h", *range(6))


def damage_gzip_body(data):
    compressed = bytearray(gzip.compress(data))
    for i in range(10, len(compressed) - 8):
        compressed[i] ^= 0xFF
    return bytes(compressed)


def bad_crc(data):
    compressed = bytearray(gzip.compress(data))
    compressed[-8] ^= 0xFF
    return bytes(compressed)


GOOD_IDX = good_idx_bytes()
CORRUPTIONS = [
    ("empty", b"", "truncated header"),
    ("three bytes", b"\0\0\x08", "truncated header"),
    ("wrong magic", b"\x01" + GOOD_IDX[1:], "wrong magic number"),
    ("wrong second byte", b"\0\x08" + GOOD_IDX[2:], "wrong magic number"),
    ("unknown type code", GOOD_IDX[:2] + b"\x0A" + GOOD_IDX[3:], "unknown type code 0x0A"),
    ("dims cut short", GOOD_IDX[:9], "truncated header"),
    ("payload cut short", GOOD_IDX[:-1], "truncated payload"),
    ("trailing bytes", GOOD_IDX + b"\0\0", "dimension product does not match the size"),
    # Declares 4 * (2**32 - 1)**4 float64 values: must be refused, not allocated.
    ("huge dimensions", struct.pack(">BBBB4I", 0, 0, 0x0E, 4, *[2**32 - 1] * 4) + b"\0" * 8,
     "truncated payload"),
]
GZIP_CORRUPTIONS = [
    ("gzip cut short", gzip.compress(GOOD_IDX)[:-12], "damaged gzip stream"),
    ("gzip body damaged", damage_gzip_body(GOOD_IDX), "damaged gzip stream"),
    ("gzip crc wrong", bad_crc(GOOD_IDX), "damaged gzip stream"),
    ("gzip header only", gzip.compress(GOOD_IDX)[:5], "damaged gzip stream"),
]


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("name, data, fragment", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corrupt_files_raise_value_error_naming_the_file(tmp_path, name, data, fragment,
                                                         compress):
    path = tmp_path / "corrupt-file-idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name, data, fragment", GZIP_CORRUPTIONS,
                         ids=[c[0] for c in GZIP_CORRUPTIONS])
def test_damaged_gzip_raises_value_error_naming_the_file(tmp_path, name, data, fragment):
    path = tmp_path / "damaged-idx.gz"
    path.write_bytes(data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)
    # Also through a gzip file object, which fails while being read.
    if name != "gzip header only":
        with gzip.open(path, "rb") as file, pytest.raises(ValueError, match="damaged gzip"):
            read_idx(file)


def test_wrong_argument_types_for_read_idx(tmp_path):
    with pytest.raises(TypeError, match="io.BytesIO"):
        read_idx(GOOD_IDX)
    with pytest.raises(TypeError, match="binary file object"):
        read_idx(42)
    path = tmp_path / "a-idx"
    path.write_bytes(GOOD_IDX)
    with open(path, encoding="latin-1") as file, pytest.raises(TypeError, match="binary mode"):
        read_idx(file)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.uint32, np.float16, np.bool_,
                                   np.complex128, object])
def test_write_idx_refuses_dtypes_outside_the_format(tmp_path, dtype):
    with pytest.raises(TypeError, match="not in the IDX format"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- #
# load_mnist on small synthetic folders
# --------------------------------------------------------------------------- #

def write_fake_mnist(folder, kind="train", n=12, images_name=None, labels_name=None,
                     images=None, labels=None):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 4, 3), dtype=np.uint8) if images is None else images
    labels = (np.arange(n) % 10).astype(np.uint8) if labels is None else labels
    write_idx(folder / (images_name or f"{kind}-images-idx3-ubyte.gz"), images)
    write_idx(folder / (labels_name or f"{kind}-labels-idx1-ubyte.gz"), labels)
    return images, labels


@pytest.mark.parametrize("images_name, labels_name", [
    ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ("t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte.gz"),
    ("t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte"),
])
def test_load_mnist_accepts_every_spelling(tmp_path, images_name, labels_name):
    images, labels = write_fake_mnist(tmp_path, "t10k", images_name=images_name,
                                      labels_name=labels_name)
    got_images, got_labels = load_mnist(str(tmp_path), kind="t10k")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.dtype == np.uint8 and got_labels.dtype == np.uint8
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, kind="train")


@pytest.mark.parametrize("digits", [[3, 7], (7, 3), {3, 7}, np.array([3, 7]), iter([3, 7])])
def test_load_mnist_filters_digits_in_file_order(tmp_path, digits):
    images, labels = write_fake_mnist(tmp_path, n=25)
    got_images, got_labels = load_mnist(tmp_path, digits=digits)
    keep = (labels == 3) | (labels == 7)
    np.testing.assert_array_equal(got_labels, labels[keep])
    np.testing.assert_array_equal(got_images, images[keep])
    assert list(got_labels) == [3, 7, 3, 7, 3]


def test_load_mnist_missing_folder_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="shared/data/mnist") as info:
        load_mnist(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_mnist(tmp_path / "a-file")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message and "train-labels.idx1-ubyte.gz" in message
    assert str(tmp_path) in message


@pytest.mark.parametrize("images, labels, fragment", [
    (np.zeros((3, 4, 4), np.uint8), np.zeros(4, np.uint8), "3 images but"),
    (np.zeros((3, 16), np.uint8), np.zeros(3, np.uint8), "shape (n_images, rows, cols)"),
    (np.zeros((3, 4, 4), np.float32), np.zeros(3, np.uint8), "must be uint8"),
    (np.zeros((3, 4, 4), np.uint8), np.zeros(3, np.int32), "labels must be uint8"),
    (np.zeros((3, 4, 4), np.uint8), np.zeros((3, 1), np.uint8), "labels must be uint8"),
])
def test_load_mnist_inconsistent_files(tmp_path, images, labels, fragment):
    write_fake_mnist(tmp_path, images=images, labels=labels)
    with pytest.raises(ValueError) as info:
        load_mnist(tmp_path)
    assert fragment in str(info.value)
    assert "train-" in str(info.value)
    if fragment == "3 images but":  # both files are named
        assert "train-images-idx3-ubyte.gz" in str(info.value)
        assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_load_mnist_corrupt_file_names_it(tmp_path):
    write_fake_mnist(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match="damaged gzip") as info:
        load_mnist(tmp_path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(kind="test"), ValueError, "t10k"),
    (dict(kind="training"), ValueError, "'train' or 't10k'"),
    (dict(digits=[1, 10]), ValueError, "from 0 to 9"),
    (dict(digits=[-1]), ValueError, "from 0 to 9"),
    (dict(digits=[1.0]), TypeError, "ints"),
    (dict(digits=[True]), TypeError, "ints"),
    (dict(digits=3), TypeError, "iterable"),
    (dict(digits="01"), TypeError, "iterable"),
    (dict(digits=[]), ValueError, "empty"),
])
def test_load_mnist_bad_arguments(tmp_path, kwargs, error, fragment):
    write_fake_mnist(tmp_path)
    with pytest.raises(error, match=fragment):
        load_mnist(tmp_path, **kwargs)


# --------------------------------------------------------------------------- #
# The real MNIST files, when the shared data folder is there
# --------------------------------------------------------------------------- #

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist():
    if not MNIST.is_dir():
        pytest.skip(f"MNIST not found in {MNIST}")
    return {kind: load_mnist(MNIST, kind) for kind in ("train", "t10k")}


@pytest.mark.parametrize("kind, n, counts, pixel_sum", [
    ("train", 60000, TRAIN_COUNTS, 1567298545),
    ("t10k", 10000, TEST_COUNTS, 264923200),
])
def test_real_mnist(mnist, kind, n, counts, pixel_sum):
    images, labels = mnist[kind]
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == counts
    assert int(images.sum(dtype=np.int64)) == pixel_sum


def test_real_mnist_digit_filter(mnist):
    images, labels = mnist["t10k"]
    zeros_and_ones, their_labels = load_mnist(MNIST, "t10k", digits=[0, 1])
    keep = labels <= 1
    assert len(their_labels) == TEST_COUNTS[0] + TEST_COUNTS[1]
    np.testing.assert_array_equal(their_labels, labels[keep])
    np.testing.assert_array_equal(zeros_and_ones, images[keep])
