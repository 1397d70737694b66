"""The data layer: IDX and npz readers, offline directories, the test-only MNIST split, clear errors
for missing and corrupt files, synthetic sets, datasets registered by plugins."""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from advdl import DatasetSpec, hookimpl
from advdl.api.errors import DataError, UnknownNameError
from advdl.datasets.data import IDX_IMAGES, IDX_LABELS, load_dataset, read_idx
from advdl.loading.manager import build_registry, get_registry

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data"


def idx_bytes(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_like(folder, n_test=50, n_train=0, gz=True, checksums=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("t10k", n_test), ("train", n_train)):
        if n:
            files[f"{prefix}-images-idx3-ubyte"] = idx_bytes(rng.integers(0, 256, (n, 28, 28)), IDX_IMAGES)
            files[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(np.arange(n) % 10, IDX_LABELS)
    lines = []
    for name, raw in files.items():
        name, raw = (name + ".gz", gzip.compress(raw)) if gz else (name, raw)
        (folder / name).write_bytes(raw)
        lines.append(f"{hashlib.sha256(raw).hexdigest()}  {name}")
    if checksums:
        (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return folder


def test_idx_round_trip_gzip_and_plain(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(images, IDX_IMAGES))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(images, IDX_IMAGES)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a", IDX_IMAGES), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", IDX_IMAGES), images)


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-7], "wrong size"),
    (lambda raw: b"\x00\x00\x08\x01" + raw[4:], "bad magic number"),
    (lambda raw: raw[:2], "truncated"),
])
def test_corrupt_idx_files_are_clear_errors(tmp_path, damage, message):
    raw = idx_bytes(np.zeros((3, 4, 4)), IDX_IMAGES)
    (tmp_path / "x").write_bytes(damage(raw))
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "x", IDX_IMAGES)


def test_broken_gzip_is_a_clear_error(tmp_path):
    (tmp_path / "x.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((3, 4, 4)), IDX_IMAGES))[:-10])
    with pytest.raises(DataError, match="gzip"):
        read_idx(tmp_path / "x.gz", IDX_IMAGES)


def test_test_only_directory_is_split_in_file_order_and_says_so(tmp_path):
    write_mnist_like(tmp_path / "mnist", n_test=50)
    data = load_dataset("mnist", get_registry(), tmp_path)
    assert (len(data.x_train), len(data.x_test)) == (40, 10)  # 4/5 of a small set; 8,000 / 2,000 of MNIST's
    assert data.x_train.shape[1:] == (28, 28, 1) and data.x_train.dtype == np.uint8
    np.testing.assert_array_equal(data.y_train[:3], [0, 1, 2])
    np.testing.assert_array_equal(data.y_test[:3], [0, 1, 2])  # label 40 % 10: the next in file order
    assert "test set" in data.note and "first 40" in data.note


def test_full_directory_plain_idx_without_checksums(tmp_path):
    write_mnist_like(tmp_path, n_test=20, n_train=30, gz=False, checksums=False)
    data = load_dataset("mnist", get_registry(), tmp_path)
    assert (len(data.x_train), len(data.x_test), data.note) == (30, 20, "")


def test_checksum_mismatch_is_reported(tmp_path):
    folder = write_mnist_like(tmp_path / "mnist")
    path = folder / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1] + bytes([(raw[-1] + 1) % 256])))  # still a valid IDX file
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("mnist", get_registry(), tmp_path)


def test_npz_with_the_keras_layout(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "cifar10.npz", x_train=rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8),
             y_train=np.arange(6).reshape(6, 1), x_test=np.zeros((2, 32, 32, 3), np.uint8), y_test=np.array([[1], [2]]))
    data = load_dataset("cifar10", get_registry(), tmp_path)
    assert data.image_shape == (32, 32, 3) and data.y_train.shape == (6,) and list(data.y_test) == [1, 2]
    np.savez(tmp_path / "fashion_mnist.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="missing array"):
        load_dataset("fashion_mnist", get_registry(), tmp_path)


def test_missing_dataset_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    import advdl.api.backend

    def offline(*args, **kwargs):
        raise OSError("no internet")

    monkeypatch.setattr(advdl.api.backend, "import_tensorflow", offline)  # keras.datasets' download fails here
    monkeypatch.delenv("ADVDL_DATA_DIR", raising=False)
    with pytest.raises(DataError) as error:
        load_dataset("fashion_mnist", get_registry(), tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "--data-dir" in message and "ADVDL_DATA_DIR" in message
    assert "no internet" in message and "\n" not in message


def test_unknown_dataset_has_a_did_you_mean():
    with pytest.raises(UnknownNameError, match="Did you mean 'mnist'"):
        load_dataset("mnsit", get_registry())


def test_synthetic_sets_are_reproducible_and_learnable():
    a, b = (load_dataset("synthetic_mnist", get_registry()) for _ in range(2))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    # nearest class mean on raw pixels already separates the classes: there is signal to learn
    means = np.stack([a.x_train[a.y_train == k].reshape(-1, 784).mean(0) for k in range(10)])
    predicted = ((a.x_test.reshape(-1, 1, 784) - means) ** 2).sum(-1).argmin(1)
    assert (predicted == a.y_test).mean() > 0.9


def test_a_plugin_registers_a_dataset(tmp_path):
    class Plugin:
        @hookimpl
        def advdl_register_datasets(self, register):
            register(DatasetSpec(name="tiny", loader="advdl.datasets.data:synthetic_cifar", summary="test"))

    registry = build_registry([Plugin()])
    assert load_dataset("tiny", registry).image_shape == (32, 32, 3)
    assert "mnist" in registry.datasets  # the built-ins are still there


@pytest.mark.skipif(not (SHARED_MNIST / "mnist").is_dir(), reason="the shared MNIST test set is not beside the project")
def test_the_shared_mnist_test_set(monkeypatch):
    monkeypatch.setenv("ADVDL_DATA_DIR", os.fspath(SHARED_MNIST))
    data = load_dataset("mnist", get_registry())
    assert (data.x_train.shape, data.x_test.shape) == ((8000, 28, 28, 1), (2000, 28, 28, 1))
    assert data.y_train[0] == 7 and data.num_classes == 10  # MNIST's first test digit is a 7
    assert "8,000" in data.note and "2,000" in data.note


@pytest.mark.skipif(not (SHARED_MNIST / "mnist").is_dir(), reason="the shared MNIST test set is not beside the project")
def test_colored_mnist_is_mnist_in_colour_and_deterministic(monkeypatch):
    monkeypatch.setenv("ADVDL_DATA_DIR", os.fspath(SHARED_MNIST))
    grey, colour = load_dataset("mnist", get_registry()), load_dataset("colored_mnist", get_registry())
    again = load_dataset("colored_mnist", get_registry())
    assert colour.x_train.shape == (8000, 28, 28, 3) and colour.note == grey.note
    np.testing.assert_array_equal(colour.y_test, grey.y_test)
    np.testing.assert_array_equal(colour.x_test, again.x_test)
    image, digit = colour.x_train[0].astype(int), grey.x_train[0, ..., 0]
    ink, paper = image[digit == 255], image[digit == 0]
    assert (ink == ink[0]).all() and (paper == paper[0]).all()  # one colour for the stroke, one for the ground
    assert ink[0].min() >= 128 and paper[0].max() <= 100  # bright on dark
    assert len({tuple(colour.x_train[i, 0, 0]) for i in range(100)}) > 90  # backgrounds differ between images


# -- SVHN's MATLAB files, grey and resized sets ------------------------------------------------------
def _svhn_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), rng.integers(1, 11, (n, 1)).astype(np.float64)


@pytest.mark.parametrize("compress", [False, True])
def test_mat_reader_reads_what_scipy_writes(tmp_path, compress):
    scipy_io = pytest.importorskip("scipy.io")  # the reference writer (a test dependency only)
    from advdl.datasets.data import read_mat

    x, y = _svhn_arrays(5, 0)
    odd = np.arange(6, dtype=np.int16).reshape(2, 3)  # column-major storage, a 2-byte type, a small element
    scipy_io.savemat(tmp_path / "a.mat", {"X": x, "y": y, "odd": odd}, do_compression=compress)
    arrays = read_mat(tmp_path / "a.mat")
    np.testing.assert_array_equal(arrays["X"], x)
    np.testing.assert_array_equal(arrays["y"], y)
    np.testing.assert_array_equal(arrays["odd"], odd)


def test_svhn_from_its_mat_files_with_label_10_as_0(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    folder = tmp_path / "svhn"
    folder.mkdir()
    for name, n, seed in (("train_32x32.mat", 7, 0), ("test_32x32.mat", 3, 1)):
        x, y = _svhn_arrays(n, seed)
        scipy_io.savemat(folder / name, {"X": x, "y": y}, do_compression=True)
    data = load_dataset("svhn", get_registry(), tmp_path)
    x, y = _svhn_arrays(7, 0)
    assert data.x_train.shape == (7, 32, 32, 3) and data.x_test.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(data.x_train[2], x[..., 2])
    np.testing.assert_array_equal(data.y_train, y[:, 0].astype(int) % 10)
    (folder / "test_32x32.mat").write_bytes(b"MATLAB 7.3 MAT-file" + bytes(200))
    with pytest.raises(DataError, match="not a little-endian MATLAB 5 file"):
        load_dataset("svhn", get_registry(), tmp_path)


def test_grey_and_resized_images():
    from advdl.datasets.data import grey, resize_images

    colour = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]]], np.uint8)
    assert grey(colour).reshape(-1).tolist() == [76, 150, 29, 255]
    digits = load_dataset("synthetic_mnist", get_registry()).x_test[:4]
    bigger = resize_images(digits, 32, 32)
    assert bigger.shape == (4, 32, 32, 1) and bigger.dtype == np.uint8
    assert abs(float(bigger.mean()) - float(digits.mean())) < 2.0  # the same picture, more pixels
