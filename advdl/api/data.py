"""Image datasets as plugins see them: the ``Dataset`` a loader returns, and image helpers.

Images are uint8 arrays (N, H, W, C); labels int64 (N,).
"""

from dataclasses import dataclass

import numpy as np

from advdl.api.errors import DataError


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str  # where it was read from
    note: str = ""  # e.g. how a test-only directory was split

    @property
    def image_shape(self):
        return self.x_train.shape[1:]


def dataset_of(spec, x_train, y_train, x_test, y_test, *, source, note=""):
    """``spec.dataset(...)``: a Dataset named ``spec.name`` with ``spec.num_classes`` classes.

    Grey images (N, H, W) get their channel axis, labels become int64 (N,). A DataError names the
    dataset for images that are not uint8, a split whose images and labels differ in number, images
    of another shape than ``spec.image_shape`` (when the spec gives one) or a label outside
    0..num_classes - 1.
    """
    what = f"dataset '{spec.name}'"
    splits = {}
    for split, images, labels in (("train", x_train, y_train), ("test", x_test, y_test)):
        images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
        images = images[..., None] if images.ndim == 3 else images
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(f"{what}: x_{split} must be uint8 images (N, H, W, C), got {images.dtype} "
                            f"{images.shape}")
        if len(images) != len(labels):
            raise DataError(f"{what}: {len(images):,} {split} images but {len(labels):,} labels")
        if spec.image_shape and images.shape[1:] != tuple(spec.image_shape):
            raise DataError(f"{what}: {split} images are {images.shape[1:]}, its spec says {tuple(spec.image_shape)}")
        if len(labels) and not (np.issubdtype(labels.dtype, np.integer) and 0 <= labels.min()
                                and labels.max() < spec.num_classes):
            raise DataError(f"{what}: y_{split} must be integer labels in 0..{spec.num_classes - 1}")
        splits[split] = images, labels.astype(np.int64)
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return Dataset(spec.name, x_train, y_train, x_test, y_test, spec.num_classes, source, note)


LUMINANCE = (0.299, 0.587, 0.114)  # ITU-R 601 weights of R, G, B


def grey(images):
    """Colour images (N, H, W, 3) as luminance (N, H, W, 1)."""
    return np.rint(images.astype(np.float32) @ np.array(LUMINANCE, np.float32))[..., None].astype(np.uint8)


def resize_images(images, height, width):
    """uint8 images (N, H, W, C) resized to (height, width), bilinear."""
    from PIL import Image

    out = np.empty((len(images), height, width, images.shape[-1]), np.uint8)
    for i, image in enumerate(images):
        resized = np.asarray(Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
                             .resize((width, height), Image.BILINEAR))
        out[i] = resized.reshape(height, width, -1)
    return out
