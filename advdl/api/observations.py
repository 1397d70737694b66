"""What a neural agent's networks see of an observation, for every standard Gymnasium space (the
preprocessing Stable-Baselines3 applies):

- ``Box``: flattened to float32; an image (uint8 in [0, 255], H x W x C, H x W or C x H x W)
  stays an image, channels last, scaled to [0, 1], for a CNN torso (``torso_layers``).
- ``Discrete``: one-hot; ``MultiDiscrete``: one one-hot per dimension, concatenated.
- ``MultiBinary``: its bits as floats.
- ``Dict`` and ``Tuple``: an agent declares ``flat_observations = True`` and the run hands it
  ``gymnasium.wrappers.FlattenObservation``'s flat ``Box`` (the parts above, concatenated).

The encoding is numpy, so acting through a numpy forward pass costs no TensorFlow call.
"""

import numpy as np
from gymnasium import spaces

from advdl.api.errors import EnvSpaceError

SMALL_IMAGE = 36  # below this side, the Nature CNN's 8x8/4 first layer leaves nothing to convolve
NATURE_CNN = ((32, 8, 4), (64, 4, 2), (64, 3, 1))  # (filters, kernel, stride): Mnih et al. 2015
SMALL_CNN = ((16, 3, 1), (32, 3, 1))
CNN_FEATURES = 256  # the dense layer after the convolutions (Nature's is 512)


def is_image_space(space):
    """A uint8 Box in [0, 255] of 2 dimensions or 3 with 1-4 channels (first or last)."""
    if not (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) in (2, 3)):
        return False
    if not (np.all(space.low == 0) and np.all(space.high == 255)):
        return False
    return len(space.shape) == 2 or space.shape[-1] <= 4 or space.shape[0] <= 4


def flat_space(space):
    """The space an agent declaring ``flat_observations`` receives: Dict and Tuple become one Box."""
    if isinstance(space, (spaces.Dict, spaces.Tuple)):
        return spaces.flatten_space(space)
    return space


class ObservationEncoder:
    """Turns a batch of raw observations (as the env gives them, stacked) into network inputs.

    ``shape`` is one encoded observation's shape: ``(features,)``, or ``(H, W, C)`` for an image
    (``image`` is then True). ``size`` is the number of floats it holds.
    """

    def __init__(self, space):
        self.space, self.image, self._channels_first = space, False, False
        if isinstance(space, spaces.Discrete):
            self._one_hot(np.array([space.n]), np.array([space.start]))
        elif isinstance(space, spaces.MultiDiscrete):
            self._one_hot(space.nvec.reshape(-1), space.start.reshape(-1))
        elif isinstance(space, spaces.MultiBinary):
            self.shape = (int(np.prod(space.shape)),)
        elif is_image_space(space):
            self.image = True
            shape = space.shape if len(space.shape) == 3 else (*space.shape, 1)
            self._channels_first = len(space.shape) == 3 and shape[-1] > 4
            self.shape = (shape[1], shape[2], shape[0]) if self._channels_first else tuple(shape)
        elif isinstance(space, spaces.Box):
            self.shape = (int(np.prod(space.shape)),)
        elif isinstance(space, (spaces.Dict, spaces.Tuple)):
            raise EnvSpaceError(f"a {type(space).__name__} observation space reaches the agent flattened only when "
                                f"it declares flat_observations = True")
        else:
            raise EnvSpaceError(f"unsupported observation space {space} (Box, Discrete, MultiDiscrete, MultiBinary, "
                                f"Dict and Tuple are)")
        self.size = int(np.prod(self.shape))

    def _one_hot(self, sizes, starts):
        sizes = sizes.astype(np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]) - starts.astype(np.int64)
        self.shape = (int(sizes.sum()),)

    def __call__(self, obs):
        obs = np.asarray(obs)
        n = len(obs)
        if hasattr(self, "_offsets"):
            encoded = np.zeros((n, self.size), np.float32)
            encoded[np.arange(n)[:, None], obs.reshape(n, -1).astype(np.int64) + self._offsets] = 1.0
            return encoded
        if self.image:
            images = obs.reshape(n, *self.space.shape)
            if len(self.space.shape) == 2:
                images = images[..., None]
            elif self._channels_first:
                images = images.transpose(0, 2, 3, 1)
            return images.astype(np.float32) / 255.0
        return obs.reshape(n, -1).astype(np.float32)


    def keras_input(self, keras, name="obs"):
        """(a Keras input taking raw observations as the env gives them, its encoding as ``__call__`` computes
        it): the front of an exported policy. Inputs are float32 for a vector Box, uint8 for an image, int64
        for Discrete and MultiDiscrete, int8 for MultiBinary."""
        ops, space = keras.ops, self.space
        dtype = ("uint8" if self.image else "int64" if hasattr(self, "_offsets")
                 else "int8" if isinstance(space, spaces.MultiBinary) else "float32")
        obs = keras.Input(space.shape, dtype=dtype, name=name)
        if hasattr(self, "_offsets"):
            indices = ops.reshape(obs, (-1, len(self._offsets))) + self._offsets
            return obs, ops.sum(ops.one_hot(indices, self.size), axis=1)
        if self.image:
            images = ops.cast(obs, "float32") / 255.0
            if len(space.shape) == 2:
                images = ops.expand_dims(images, -1)
            elif self._channels_first:
                images = ops.transpose(images, (0, 2, 3, 1))
            return obs, images
        return obs, ops.reshape(ops.cast(obs, "float32"), (-1, self.size))


def cnn_layers(image_shape):
    """(filters, kernel, stride) of the CNN torso for an image of ``image_shape`` (H, W, C)."""
    return NATURE_CNN if min(image_shape[:2]) >= SMALL_IMAGE else SMALL_CNN


def torso_layers(keras, encoder, name=""):
    """The Keras layers between a network's input (``encoder.shape``) and its dense layers: none for
    flat inputs; for an image, ReLU convolutions, a flatten and a dense ReLU layer of CNN_FEATURES."""
    if not encoder.image:
        return []
    prefix = f"{name}_" if name else ""
    layers = [keras.layers.Conv2D(filters, kernel, strides=stride, activation="relu", name=f"{prefix}conv{i}")
              for i, (filters, kernel, stride) in enumerate(cnn_layers(encoder.shape))]
    return [*layers, keras.layers.Flatten(name=f"{prefix}flatten"),
            keras.layers.Dense(CNN_FEATURES, activation="relu", name=f"{prefix}features")]


def torso_parameters(encoder):
    """(weights in the torso, the width of what it hands the dense layers), before building it."""
    if not encoder.image:
        return 0, encoder.size
    height, width, channels = encoder.shape
    weights = 0
    for filters, kernel, stride in cnn_layers(encoder.shape):
        weights += (kernel * kernel * channels + 1) * filters
        height, width, channels = (height - kernel) // stride + 1, (width - kernel) // stride + 1, filters
        if height < 1 or width < 1:
            raise EnvSpaceError(f"images of {encoder.shape[0]}x{encoder.shape[1]} pixels are too small for the CNN "
                                f"torso")
    return weights + (height * width * channels + 1) * CNN_FEATURES, CNN_FEATURES
