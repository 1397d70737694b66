"""Image datasets: named sets (MNIST, Fashion-MNIST, CIFAR-10, synthetic ones, any a plugin
registers), read from an offline directory first and from ``keras.datasets`` otherwise.

An offline directory (``--data-dir`` or ``ADVDL_DATA_DIR``) holds, for a set NAME, either
``NAME.npz`` with the keras layout (``x_train``, ``y_train``, ``x_test``, ``y_test``) or the
original IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-...``), directly in the directory or in ``DIR/NAME/``. A ``SHA256SUMS`` file beside them
is checked. A directory with only the 10,000-image test set is split into train 8,000 / test
2,000 in file order, and the Dataset says so in its ``note``.

Images are uint8 arrays (N, H, W, C); labels int64 (N,). Reading never unpickles anything.
"""

import gzip
import hashlib
import inspect
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from advdl.api.data import LUMINANCE, Dataset, grey, resize_images  # noqa: F401 - re-exported
from advdl.api.errors import DataError

DATA_DIR_VARIABLE = "ADVDL_DATA_DIR"
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801
TEST_ONLY_SPLIT = 8000  # of MNIST's 10,000 test images: train on the first 8,000, test on the rest


# -- IDX files -------------------------------------------------------------------------------------
def read_idx(path, expected_magic):
    """The array in an IDX file (gzip or not), checked: magic number, header and exact size."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc}); download it again") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == IDX_IMAGES else "labels"
        raise DataError(f"{path}: bad magic number {magic:#010x} for IDX {kind} (expected {expected_magic:#010x})")
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(n_dims))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: wrong size, {len(raw)} bytes where the header {shape} needs {expected}; "
                        f"the file is truncated or corrupt")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def verify_checksums(directory):
    """Check every file a SHA256SUMS in ``directory`` lists (when there is one)."""
    sums = Path(directory) / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, _, name = line.strip().partition("  ")
        path = Path(directory) / name.strip().lstrip("*")
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != digest.lower():
            raise DataError(f"{path}: checksum mismatch against {sums}; the file is corrupt, download it again")


def _find(directory, stem):
    for name in (stem, stem + ".gz"):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    return None


def _images_and_labels(directory, prefix):
    images, labels = _find(directory, f"{prefix}-images-idx3-ubyte"), _find(directory, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        return None
    x, y = read_idx(images, IDX_IMAGES), read_idx(labels, IDX_LABELS)
    if len(x) != len(y):
        raise DataError(f"{directory}: {len(x)} images but {len(y)} labels in the {prefix} files")
    return x, y.astype(np.int64)


def read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise DataError(f"{path}: missing array {exc} (the keras layout has x_train, y_train, x_test, y_test)") from None
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        raise DataError(f"{path}: unreadable npz ({type(exc).__name__}: {str(exc)[:120]})") from None
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(f"{path}: x_{split} and y_{split} differ in length")
    return arrays


def read_directory(directory, name):
    """The dataset ``name`` from an offline directory, or None if it is not there."""
    for folder in (Path(directory) / name, Path(directory)):
        if not folder.is_dir():
            continue
        npz = folder / f"{name}.npz"
        if npz.is_file():
            verify_checksums(folder)
            a = read_npz(npz)
            return _dataset(name, a["x_train"], a["y_train"], a["x_test"], a["y_test"], str(npz))
        if _find(folder, "t10k-images-idx3-ubyte") is None and _find(folder, "train-images-idx3-ubyte") is None:
            continue
        verify_checksums(folder)
        test = _images_and_labels(folder, "t10k")
        train = _images_and_labels(folder, "train")
        if train is not None and test is not None:
            return _dataset(name, *train, *test, str(folder))
        if test is not None:
            x, y = test
            k = min(TEST_ONLY_SPLIT, len(x) * 4 // 5)
            note = (f"only the {len(x):,}-image test set was found in {folder}: trained on its first {k:,} "
                    f"images, tested on the other {len(x) - k:,}")
            return _dataset(name, x[:k], y[:k], x[k:], y[k:], str(folder), note)
        raise DataError(f"{folder}: training IDX files without the t10k (test) files")
    return None


def _dataset(name, x_train, y_train, x_test, y_test, source, note=""):
    def images(x):
        x = np.asarray(x)
        return x[..., None] if x.ndim == 3 else x

    y_train, y_test = np.asarray(y_train).reshape(-1).astype(np.int64), np.asarray(y_test).reshape(-1).astype(np.int64)
    classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    return Dataset(name, images(x_train), y_train, images(x_test), y_test, classes, source, note)


# -- named datasets ----------------------------------------------------------------------------------
def data_dirs(data_dir=None):
    """The offline directories to look in: the option, then the environment variable."""
    dirs = [d for d in (data_dir, os.environ.get(DATA_DIR_VARIABLE)) if d]
    return [Path(d).expanduser() for d in dict.fromkeys(dirs)]


def load_keras(name, data_dir=None):
    """Loader of the keras-known sets: offline directories first, then ``keras.datasets``."""
    looked = []
    for directory in data_dirs(data_dir):
        looked.append(str(directory))
        found = read_directory(directory, name)
        if found is not None:
            return found
    try:
        from advdl.api.backend import import_tensorflow

        _, keras = import_tensorflow()
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:
        where = ", ".join(looked) if looked else f"no offline directory (none given; --data-dir or {DATA_DIR_VARIABLE})"
        raise DataError(
            f"dataset '{name}' not found: looked in {where}, then keras.datasets failed "
            f"({type(exc).__name__}: {str(exc)[:100]}). Put its IDX files or {name}.npz (keras layout) in a "
            f"directory and pass --data-dir DIR or set {DATA_DIR_VARIABLE}") from None
    return _dataset(name, x_train, y_train, x_test, y_test, f"keras.datasets.{name}")


def synthetic(name, n_train, n_test, shape, num_classes=10, seed=0):
    """A learnable image set made on the spot: each class is a fixed pattern of three soft blobs;
    an image is its class pattern shifted by up to 2 pixels, plus noise."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    rows, cols = np.mgrid[0:h, 0:w]
    prototypes = np.zeros((num_classes, h, w, c))
    for k in range(num_classes):
        for _ in range(3):
            y, x, size = rng.uniform(4, h - 4), rng.uniform(4, w - 4), rng.uniform(1.5, 4.0)
            blob = np.exp(-((rows - y) ** 2 + (cols - x) ** 2) / (2 * size**2))
            prototypes[k] += blob[..., None] * rng.uniform(0.5, 1.0, c)
    prototypes = 255 * np.clip(prototypes, 0, 1)

    def make(n):
        labels = rng.integers(0, num_classes, n)
        shifts = rng.integers(-2, 3, (n, 2))
        images = np.stack([np.roll(prototypes[k], tuple(s), axis=(0, 1)) for k, s in zip(labels, shifts)])
        images = np.clip(images + rng.normal(0, 12, images.shape), 0, 255)
        return images.astype(np.uint8), labels.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = make(n_train), make(n_test)
    return Dataset(name, x_train, y_train, x_test, y_test, num_classes, "synthetic")


def mnist(data_dir=None):
    return load_keras("mnist", data_dir)


def fashion_mnist(data_dir=None):
    return load_keras("fashion_mnist", data_dir)


def cifar10(data_dir=None):
    return load_keras("cifar10", data_dir)


def colorize(images, seed):
    """Digits (N, H, W, 1) drawn in a bright colour on a dark coloured background, both drawn per
    image from a generator seeded with ``seed``: the same images always get the same colours."""
    rng = np.random.default_rng(seed)
    foreground = rng.integers(128, 256, (len(images), 1, 1, 3))
    background = rng.integers(0, 101, (len(images), 1, 1, 3))
    ink = images.astype(np.float32) / 255.0
    return np.rint(background + ink * (foreground - background)).astype(np.uint8)


def colored_mnist(data_dir=None):
    """MNIST (as ``mnist`` finds it, same split) in colour, made deterministically: the CycleGAN
    task MNIST <-> coloured MNIST and the colorization autoencoder run offline on it."""
    grey = mnist(data_dir)
    return Dataset("colored_mnist", colorize(grey.x_train, [7, 0]), grey.y_train, colorize(grey.x_test, [7, 1]),
                   grey.y_test, grey.num_classes, f"{grey.source}, coloured", grey.note)


# one colour per digit class (bright, far apart in hue and luminance)
CLASS_COLOURS = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                          (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)], np.float32)


def tinted_mnist(data_dir=None):
    """MNIST (as ``mnist`` finds it, same split) with each digit's ink in its class's colour on
    black: turning the grey digit back into colour takes knowing which digit it is (the
    colorization autoencoder's offline task; coloured_mnist's colours are random per image)."""
    grey_set = mnist(data_dir)

    def tint(images, labels):
        return np.rint(images.astype(np.float32) / 255.0 * CLASS_COLOURS[labels % 10][:, None, None, :]).astype(np.uint8)

    return Dataset("tinted_mnist", tint(grey_set.x_train, grey_set.y_train), grey_set.y_train,
                   tint(grey_set.x_test, grey_set.y_test), grey_set.y_test, grey_set.num_classes,
                   f"{grey_set.source}, tinted by class", grey_set.note)


def cifar10_grey(data_dir=None):
    """CIFAR-10 in grey (the book's CycleGAN task grey -> colour), same split as ``cifar10``."""
    colour = cifar10(data_dir)
    return Dataset("cifar10_grey", grey(colour.x_train), colour.y_train, grey(colour.x_test), colour.y_test,
                   colour.num_classes, f"{colour.source}, grey", colour.note)


# -- SVHN: MATLAB 5 files, read without scipy --------------------------------------------------------
SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
SVHN_FILES = ("train_32x32.mat", "test_32x32.mat")
MAT_TYPES = {1: "i1", 2: "u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 9: "<f8", 12: "<i8", 13: "<u8"}
MAT_COMPRESSED, MAT_MATRIX = 15, 14


def _mat_elements(buffer):
    """(type, data) of each data element of a MATLAB 5 buffer (little-endian)."""
    pos = 0
    while pos + 8 <= len(buffer):
        kind, size = struct.unpack_from("<II", buffer, pos)
        if kind >> 16:  # a small element: type and size share the first word, the data the second
            yield kind & 0xFFFF, buffer[pos + 4:pos + 4 + (kind >> 16)]
            pos += 8
            continue
        yield kind, buffer[pos + 8:pos + 8 + size]
        pos += 8 + size + (0 if kind == MAT_COMPRESSED else -size % 8)


def read_mat(path):
    """The numeric arrays of a MATLAB 5 ``.mat`` file by name (compressed or not; never pickled)."""
    raw = Path(path).read_bytes()
    if len(raw) < 128 or raw[126:128] != b"IM":
        raise DataError(f"{path}: not a little-endian MATLAB 5 file (MATLAB 7.3 / HDF5 files are not read)")
    arrays = {}
    try:
        for kind, data in _mat_elements(memoryview(raw)[128:]):
            if kind == MAT_COMPRESSED:
                kind, data = next(_mat_elements(memoryview(zlib.decompress(data))))
            if kind != MAT_MATRIX:
                continue
            (_, flags), (_, dims), (_, name), (real_type, real) = list(_mat_elements(data))[:4]
            if real_type not in MAT_TYPES:
                continue
            shape = tuple(np.frombuffer(dims, "<i4"))
            arrays[bytes(name).decode()] = np.frombuffer(real, MAT_TYPES[real_type]).reshape(shape, order="F")
    except (ValueError, zlib.error, struct.error, StopIteration) as exc:
        raise DataError(f"{path}: unreadable MATLAB file ({type(exc).__name__}: {str(exc)[:120]})") from None
    return arrays


def _svhn_split(path):
    arrays = read_mat(path)
    if "X" not in arrays or "y" not in arrays:
        raise DataError(f"{path}: expected the arrays X and y of SVHN's cropped digits")
    return np.ascontiguousarray(arrays["X"].transpose(3, 0, 1, 2)), arrays["y"].reshape(-1).astype(np.int64) % 10


def svhn(data_dir=None):
    """SVHN's cropped digits (32x32 colour, label 10 read as 0): ``svhn.npz`` (keras layout) or
    SVHN's own ``train_32x32.mat`` and ``test_32x32.mat`` in an offline directory, else downloaded
    from the SVHN site into keras' dataset cache."""
    folders = []
    for directory in data_dirs(data_dir):
        found = read_directory(directory, "svhn")
        if found is not None:
            return found
        folders += [directory / "svhn", directory]
    for folder in folders:
        if all((folder / f).is_file() for f in SVHN_FILES):
            verify_checksums(folder)
            return _dataset("svhn", *_svhn_split(folder / SVHN_FILES[0]), *_svhn_split(folder / SVHN_FILES[1]),
                            str(folder))
    try:
        from advdl.api.backend import import_tensorflow

        _, keras = import_tensorflow()
        paths = [keras.utils.get_file(f, origin=SVHN_URL + f, cache_subdir="datasets/svhn") for f in SVHN_FILES]
    except Exception as exc:
        where = ", ".join(map(str, folders)) or f"no offline directory (--data-dir or {DATA_DIR_VARIABLE})"
        raise DataError(f"dataset 'svhn' not found: looked in {where}, then the download from {SVHN_URL} failed "
                        f"({type(exc).__name__}: {str(exc)[:100]}). Put svhn.npz or {' and '.join(SVHN_FILES)} in a "
                        f"directory and pass --data-dir DIR or set {DATA_DIR_VARIABLE}") from None
    return _dataset("svhn", *_svhn_split(paths[0]), *_svhn_split(paths[1]), f"{SVHN_URL} (downloaded)")


def synthetic_mnist(data_dir=None):
    return synthetic("synthetic_mnist", 2000, 500, (28, 28, 1))


def synthetic_cifar(data_dir=None):
    return synthetic("synthetic_cifar", 1000, 200, (32, 32, 3))


def load_dataset(name, registry, data_dir=None):
    """The named dataset, as the plugin that registered it loads it."""
    from advdl.loading.registry import import_target, plugin_call

    spec = registry.dataset(name)
    loader = import_target(spec.loader, f"dataset '{name}'", spec)
    extra = {"spec": spec} if _takes_spec(loader) else {}
    dataset = plugin_call(spec, f"dataset '{name}': its loader {spec.loader}", loader, data_dir, **extra)
    if not isinstance(dataset, Dataset):
        raise DataError(f"dataset '{name}': its loader {spec.loader} returned {type(dataset).__name__}, not a Dataset")
    return dataset


def _takes_spec(loader):
    """Whether a loader is ``function(data_dir, spec)`` (a parameter named ``spec``, or ``**kwargs``)."""
    try:
        parameters = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):  # a builtin or C function without a signature: the old contract
        return False
    return any(p.name == "spec" or p.kind is p.VAR_KEYWORD for p in parameters)
