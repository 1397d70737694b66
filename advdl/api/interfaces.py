"""The interfaces algorithms implement. The Trainer owns the loop; algorithms never write one.

An RL algorithm is an ``Agent``: it acts on a batch of observations and learns from the data
it declares in ``data``:

- ``"replay"``: the Trainer keeps a replay buffer and calls ``train_step`` with
  ``gradient_steps`` minibatches stacked along a leading axis (``ReplayBatch``), every
  ``train_freq`` env steps once ``learning_starts`` steps are stored (see ``ReplaySchedule``).
  Fusing the minibatches lets an agent run them all in one compiled call.
- ``"transitions"``: ``train_step`` gets every single transition as it happens (tabular methods).
- ``"rollouts"``: the Trainer steps ``n_envs`` environments side by side and calls ``train_step``
  with a ``RolloutBatch`` every ``n_steps`` steps of all of them (see ``RolloutSchedule``).
- ``"episodes"``: ``train_step`` gets every complete episode as an ``EpisodeBatch`` (Monte Carlo
  methods).

Generative and supervised algorithms implement ``Model`` (their issues add the data side).
"""

from abc import ABC, ABCMeta, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np


class Transition(NamedTuple):
    obs: np.ndarray
    action: np.ndarray
    reward: float
    next_obs: np.ndarray
    terminated: bool
    #: True when a time limit cut the episode here (``next_obs`` is then not terminal: bootstrap from it)
    truncated: bool = False


class ReplayBatch(NamedTuple):
    """``k`` minibatches of ``b`` transitions: obs (k, b, ...), actions (k, b), rewards (k, b)..."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray


class RolloutBatch(NamedTuple):
    """``n_steps`` steps of ``n_envs`` environments: obs (t, n, ...), actions (t, n, ...), rewards,
    terminated and truncated (t, n), and next_obs (t, n, ...): the observation after each step
    (before any reset), so values can be bootstrapped at truncation and at the rollout's end."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray


class EpisodeBatch(NamedTuple):
    """One whole episode: obs (t, ...), actions (t, ...), rewards (t,); ``terminated`` says whether
    it ended for real (False: cut by a time limit); ``last_obs`` is the observation it ended in."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    last_obs: np.ndarray


@dataclass(frozen=True)
class RolloutSchedule:
    n_envs: int
    n_steps: int


@dataclass(frozen=True)
class ReplaySchedule:
    buffer_size: int
    batch_size: int
    learning_starts: int
    train_freq: int
    gradient_steps: int
    #: count train_freq in episodes (train at episode ends) instead of env steps
    per_episode: bool = False


class StateRequired(ABCMeta):
    """The metaclass of ``Agent`` and ``Model``: a concrete subclass (no abstract method left) must define
    how checkpoints save and restore it, one of its root's ``_state_methods``. A missing one is a TypeError
    when the class is defined, not a surprise at the first checkpoint of a long run."""

    def __init__(cls, name, bases, namespace, **kwargs):
        super().__init__(name, bases, namespace, **kwargs)
        root = next(klass for klass in cls.__mro__ if "_state_methods" in vars(klass))
        if cls is root or cls.__abstractmethods__:
            return
        groups = root._state_methods
        if not any(all(getattr(cls, m) is not getattr(root, m) for m in group) for group in groups):
            wanted = ", or ".join(" and ".join(f"{m}()" for m in group) for group in groups)
            raise TypeError(f"{cls.__qualname__} ({cls.__module__}) must define {wanted}: what a checkpoint "
                            f"saves and restores to continue training exactly (see advdl.api.{root.__name__})")


class Agent(ABC, metaclass=StateRequired):
    """A reinforcement-learning algorithm, constructed as ``Agent(config, obs_space, action_space,
    seed=..., total_steps=...)``. A concrete agent defines ``get_state`` and ``set_state`` (checked when
    its class is defined)."""

    #: what a concrete subclass must define (any one group of methods): StateRequired checks it
    _state_methods: ClassVar[tuple] = (("get_state", "set_state"),)

    data: ClassVar[str] = "replay"
    #: names of the metrics train_step returns, in the order of the metrics.csv columns
    metric_names: ClassVar[tuple] = ()
    #: the final model's file name inside the run folder
    model_file: ClassVar[str] = "model.keras"
    #: True: a Dict or Tuple observation space reaches the agent flattened into one Box (Gymnasium's
    #: FlattenObservation, Discrete parts one-hot), in training, evaluation and recording alike
    flat_observations: ClassVar[bool] = False
    #: the run's episode limit (0: none), beside ``total_steps``: the core sets it after construction, for
    #: schedules in ``on_step`` that end with whichever budget the run reaches first
    total_episodes: int = 0

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        self.config = config
        self.observation_space = observation_space
        self.action_space = action_space
        self.seed = seed
        self.total_steps = total_steps

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        """Raise ``EnvSpaceError`` (one clear sentence) when the spaces are unsupported."""

    @abstractmethod
    def act(self, obs, explore):
        """Actions for a batch of observations; ``explore=False`` is the deterministic policy."""

    @abstractmethod
    def train_step(self, batch):
        """Learn from one batch of the declared kind; return ``{metric: float}``."""

    def env_action(self, actions):
        """What the environments receive for the actions ``act`` returned (and the buffers keep);
        e.g. a Gaussian policy's samples clipped to the action bounds."""
        return actions

    def replay_schedule(self):
        """A ``ReplaySchedule`` when ``data == "replay"``."""
        raise NotImplementedError

    def rollout_schedule(self):
        """A ``RolloutSchedule`` when ``data == "rollouts"``."""
        raise NotImplementedError

    def on_step(self, env_steps, episodes):
        """Called after every env step with the counters (exploration schedules live here)."""

    def get_state(self):
        """Everything needed to continue training exactly (weights, optimizer, counters)."""
        raise NotImplementedError

    def set_state(self, state):
        raise NotImplementedError

    def export_parts(self, observations):
        """For ``advdl export``: ``{part name: advdl.api.ExportPart}``, the deterministic policy as a Keras
        model from a raw observation (as the env gives it, batched) to the action the env receives (the
        argmax, or the mean clipped to the bounds), with the observation encoding and normalisation inside;
        ``observations`` is a batch of them from a greedy episode. Not defined: the algorithm has no export."""
        raise NotImplementedError

    @abstractmethod
    def save_model(self, path):
        """Write the final model to ``path`` (``run_dir / model_file``)."""

    @abstractmethod
    def load_model(self, path):
        """Load what ``save_model`` wrote; raise ``CheckpointError`` if it is unreadable."""


class Model(ABC, metaclass=StateRequired):
    """A supervised or generative model, constructed as ``Model(config, data_info, seed=...,
    total_steps=...)`` and trained by the core's DataTrainer on a dataset's images. A concrete model
    defines ``state_parts``, or ``get_state`` and ``set_state`` (checked when its class is defined).

    ``data_info`` is a ``DataInfo`` (name, image shape, number of classes); batches are uint8
    images (B, H, W, C) with int64 labels (B,), in an order the trainer draws from the seed.
    """

    #: what a concrete subclass must define (any one group of methods): StateRequired checks it
    _state_methods: ClassVar[tuple] = (("state_parts",), ("get_state", "set_state"))
    #: names of the metrics train_step returns (metrics.csv columns)
    metric_names: ClassVar[tuple] = ()
    #: names of the metrics evaluate returns (epochs.csv columns, summary.json)
    test_metric_names: ClassVar[tuple] = ()
    #: the final model's file name inside the run folder
    model_file: ClassVar[str] = "model.keras"

    def __init__(self, config, data_info, *, seed, total_steps):
        self.config = config
        self.data_info = data_info
        self.seed = seed
        self.total_steps = total_steps

    @property
    def batch_size(self):
        return self.config.batch_size

    @classmethod
    def check_data(cls, data_info):
        """Raise ``DataError`` (one clear sentence) for a dataset the model cannot use."""

    @abstractmethod
    def train_step(self, images, labels):
        """One optimisation step on a batch; return ``{metric: float}``."""

    #: True when ``train_step`` also takes TensorFlow tensors (uint8 images, int64 labels): the core may then keep
    #: the training set on the device and gather each batch there (the ``device_data`` run setting)
    device_batches: ClassVar[bool] = False

    #: True when ``train_graph`` is written for tf.distribute (runs with --strategy mirrored or multiworker)
    distributable: ClassVar[bool] = False

    def train_graph(self, images, labels):
        """Distributable models: one train step as TensorFlow ops, ``{metric: tensor}``, each gradient
        list passed through ``advdl.api.replica_gradients`` before the optimizer. Under a strategy the
        core builds the model in the strategy's scope and runs this on every replica with its slice
        of the batch, instead of ``train_step``."""
        raise NotImplementedError

    @abstractmethod
    def evaluate(self, images, labels):
        """Metrics on a held-out set, e.g. ``{"test_loss", "test_accuracy"}``."""

    def on_epoch_end(self, epoch):
        """Called after every epoch, after its ``evaluate`` (learning-rate schedules, sample grids)."""

    def count_params(self):
        """Number of weights, reported in summary.json (None if not meaningful)."""
        return None

    #: generative models: True when ``generate`` takes labels
    conditional: ClassVar[bool] = False

    def generate(self, n, labels=None, seed=0):
        """Generative models: ``n`` images, float32 (n, H, W, C) in [0, 1], from noise drawn with ``seed``."""
        raise NotImplementedError

    #: generative models: the run hands the model its scoring classifier before training (``model.scorer``,
    #: for the run's dataset; ``model.scorer_for(dataset)`` for another dataset the model scores)
    scored: ClassVar[bool] = True

    #: generative models: the latent codes ``sweep`` can vary (InfoGAN: discrete, c1, c2)
    codes: ClassVar[tuple] = ()

    def sweep(self, code, seed=0):
        """Generative models with ``codes``: (images, columns) of a grid that varies ``code`` along
        each row, the other inputs held fixed per row."""
        raise NotImplementedError

    #: two-domain models (CycleGAN): the directions ``translate`` takes, e.g. ("a2b", "b2a")
    directions: ClassVar[tuple] = ()

    def translate(self, direction, n, dataset):
        """Two-domain models: (sources, translations, labels of the sources) for the first ``n``
        held-out images of the direction's source domain; ``dataset`` is the run's (domain A)."""
        raise NotImplementedError

    @classmethod
    def extra_datasets(cls, config):
        """Datasets the model needs besides the run's, by role, e.g. CycleGAN's ``{"domain_b":
        "colored_mnist"}``. The run loads each (same data directory) and passes it to the
        constructor as a keyword argument named after its role."""
        return {}

    def extra_scores(self, scorer, n, seed=0, dataset=None):
        """Generative models: scores beyond the common ones (``advdl score``), e.g. InfoGAN's agreement
        of its discrete code with the classifier; ``dataset`` is the run's."""
        return {}

    def write_figures(self, run_dir, dataset):
        """Plots of the final model for the run folder (a confusion matrix, a sample grid)."""

    def export_parts(self, images, labels):
        """For ``advdl export``: ``{part name: advdl.api.ExportPart}``, the final model's inference parts as
        Keras models (a classifier's probabilities for uint8 images; a generator from noise, and an int label
        for a conditional one, to images in [0, 1]; an autoencoder's encoder and decoder), each with real
        inputs made from ``images`` (uint8 held-out images) and ``labels``. Not defined: no export."""
        raise NotImplementedError

    def state_parts(self):
        """{name: Keras model, optimizer or tf.random.Generator}: what the default ``get_state`` and
        ``set_state`` checkpoint and restore (their variables)."""
        raise NotImplementedError

    def get_state(self):
        """Everything needed to continue training exactly (weights, optimizer, RNG states)."""
        from advdl.api.backend import variables_state

        return variables_state(self.state_parts())

    def set_state(self, state):
        """Restore what ``get_state`` returned."""
        from advdl.api.backend import assign_state

        assign_state(self.state_parts(), state)

    @abstractmethod
    def save_model(self, path):
        """Write the final model (Keras format)."""

    @abstractmethod
    def load_model(self, path):
        """Load what ``save_model`` wrote; raise ``CheckpointError`` if it is unreadable."""


class DataInfo(NamedTuple):
    name: str
    image_shape: tuple
    num_classes: int
