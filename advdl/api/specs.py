"""What a plugin registers: an algorithm, a Gymnasium environment or an image dataset.

The core fills in ``plugin``, ``distribution`` and ``version`` when it registers a spec.
"""

import importlib
from dataclasses import dataclass, field


def import_plainly(target, what=None, spec=None):
    """The object a ``"module:attr"`` string names (``what`` and ``spec``: for import_factory's signature)."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


# How load_class imports a factory. The API cannot import the loading layer above it, so
# advdl.loading.registry installs its import_target here (errors named after the plugin).
import_factory = import_plainly


@dataclass(frozen=True)
class Baseline:
    """The Stable-Baselines3 counterpart ``advdl compare`` trains beside an algorithm.

    ``sb3_class`` is SB3's class name (``"DQN"``, ``"A2C"``); ``settings`` names ``function(config)
    -> {"kwargs": {...}, "n_envs": 1, "normalize_obs": False, "normalize_reward": False}`` as
    ``"module:function"``: SB3's keyword arguments (and its environment wrappers) mirroring the
    algorithm's hyperparameters ``config``; ``note`` says how the counterpart differs from the
    algorithm (None: the same method).
    """

    sb3_class: str
    settings: str
    note: str | None = None

    def load_settings(self):
        return import_plainly(self.settings)


@dataclass
class AlgorithmSpec:
    """One algorithm, as a plugin registers it.

    ``config`` is a frozen dataclass of hyperparameters (help text in each field's
    ``metadata["help"]``). ``factory`` names the implementing class as ``"module:Class"``.
    ``presets`` maps a preset name to ``{"description", "env", "steps", "run": {...},
    "hyperparameters": {...}}``; a preset named like an environment id is applied
    automatically when that environment is chosen.
    """

    name: str
    family: str
    summary: str
    config: type
    factory: str
    presets: dict = field(default_factory=dict)
    paper: str = ""
    #: the Stable-Baselines3 counterpart of an RL algorithm (``advdl compare``), or None
    baseline: Baseline | None = None
    # filled in by the registry:
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    family_spec: object = None  # the FamilySpec its family registered

    def load_class(self):
        return import_factory(self.factory, f"algorithm '{self.name}'", self)


@dataclass
class EnvSpec:
    """A Gymnasium environment a plugin provides (``id`` like ``"advdl/QWorld-v0"``)."""

    id: str
    entry_point: str
    summary: str = ""
    max_episode_steps: int | None = None
    reward_threshold: float | None = None
    kwargs: dict = field(default_factory=dict)
    plugin: str = ""
    distribution: str = ""
    version: str = ""


@dataclass
class DatasetSpec:
    """A named image dataset a plugin provides: ``loader`` names ``function(data_dir)`` or
    ``function(data_dir, spec)`` returning an ``advdl.api.Dataset``, as ``"module:function"``
    (imported only when the dataset is loaded); ``data_dir`` is the offline directory or None, and
    ``spec`` this spec, passed when the function has a parameter named ``spec``. ``scorer_epochs``:
    how many epochs the cached scoring classifier of generative runs trains on it (0: advdl's 20; a
    small, easy dataset can give fewer)."""

    name: str
    loader: str
    summary: str = ""
    image_shape: tuple = ()
    num_classes: int = 10
    scorer_epochs: int = 0
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    def dataset(self, x_train, y_train, x_test, y_test, *, source, note=""):
        """The ``Dataset`` of this spec (its name and class count) holding these arrays; see
        ``advdl.api.data.dataset_of`` for the checks."""
        from advdl.api.data import dataset_of

        return dataset_of(self, x_train, y_train, x_test, y_test, source=source, note=note)
