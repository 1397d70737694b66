"""The plugin API (``advdl.api``): one place to import from, cheap to import, and the Dataset a
loader makes from its spec."""

import importlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import subprocess_env

import advdl
import advdl.api as api
from advdl.api import DataError, DatasetSpec, hookimpl
from advdl.datasets.data import load_dataset
from advdl.loading.manager import build_registry


def test_every_public_name_resolves_to_the_object_its_module_defines():
    assert len(api.__all__) == len(set(api.__all__))
    for name in api.__all__:
        value = getattr(api, name)
        module = getattr(value, "__module__", None)
        if module and module.startswith("advdl.api."):
            assert getattr(importlib.import_module(module), name) is value, name
    assert set(api.__all__) <= set(dir(api))
    with pytest.raises(AttributeError):
        api.no_such_name  # noqa: B018


def test_the_old_import_places_still_work():
    from advdl.datasets.data import Dataset, resize_images
    from advdl.datasets.distribute import replica_gradients
    from advdl.loading.registry import AlgorithmSpec, DatasetSpec, EnvSpec
    from advdl.settings.values import check_between, option

    assert (AlgorithmSpec, DatasetSpec, EnvSpec) == (api.AlgorithmSpec, api.DatasetSpec, api.EnvSpec)
    assert (Dataset, resize_images, replica_gradients) == (api.Dataset, api.resize_images, api.replica_gradients)
    assert (option, check_between) == (api.option, api.check_between)
    for name in advdl.__all__:
        if name != "__version__":
            assert getattr(advdl, name) is getattr(api, name), name


CHEAP_PROBE = """
import sys
from advdl.api import AlgorithmSpec, DatasetSpec, EnvSpec, hookimpl, option
from advdl.loading.manager import build_registry

registry = build_registry()
assert registry.algorithms and registry.datasets and not registry.errors, registry.errors
print("HEAVY=" + ",".join(m for m in ("numpy", "tensorflow", "keras") if m in sys.modules))
"""


def test_importing_the_api_and_registering_imports_neither_numpy_nor_tensorflow(tmp_path):
    proc = subprocess.run([sys.executable, "-c", CHEAP_PROBE], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY=", proc.stdout


# -- Dataset from its spec ---------------------------------------------------------------------------
SPEC = DatasetSpec(name="dots", loader="m:f", image_shape=(4, 4, 1), num_classes=3)


def arrays(n_train=6, n_test=3, shape=(4, 4)):
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (n_train, *shape), dtype=np.uint8), np.arange(n_train) % 3,
            rng.integers(0, 256, (n_test, *shape), dtype=np.uint8), np.arange(n_test) % 3)


def test_a_spec_makes_its_dataset():
    data = SPEC.dataset(*arrays(), source="made here")
    assert isinstance(data, api.Dataset)
    assert (data.name, data.num_classes, data.source, data.note) == ("dots", 3, "made here", "")
    assert data.x_train.shape == (6, 4, 4, 1) and data.image_shape == (4, 4, 1)  # grey images get a channel
    assert data.y_train.dtype == np.int64 and data.y_test.shape == (3,)


@pytest.mark.parametrize("change, message", [
    (lambda a: (a[0].astype(np.float32), *a[1:]), "x_train must be uint8 images"),
    (lambda a: (a[0], a[1][:-1], *a[2:]), "6 train images but 5 labels"),
    (lambda a: (*a[:3], a[3] + 3), r"y_test must be integer labels in 0..2"),
    (lambda a: arrays(shape=(5, 4)), r"train images are \(5, 4, 1\), its spec says \(4, 4, 1\)"),
], ids=["float images", "missing label", "label out of range", "wrong shape"])
def test_a_spec_refuses_arrays_that_break_the_contract(change, message):
    with pytest.raises(DataError, match=f"dataset 'dots': {message}"):
        SPEC.dataset(*change(arrays()), source="made here")


LOADERS = """
from advdl.api import Dataset
import numpy as np

def old_style(data_dir):
    x, y = np.zeros((4, 2, 2, 1), np.uint8), np.zeros(4, np.int64)
    return Dataset("old", x, y, x, y, 1, f"old {data_dir}")

def new_style(data_dir, spec):
    x, y = np.zeros((4, 2, 2), np.uint8), np.arange(4) % spec.num_classes
    return spec.dataset(x, y, x, y, source=f"new {data_dir}")
"""


def test_the_core_passes_the_spec_to_a_loader_that_takes_it(tmp_path, monkeypatch):
    (tmp_path / "loaders_for_api_test.py").write_text(textwrap.dedent(LOADERS))
    monkeypatch.syspath_prepend(str(tmp_path))

    class Plugin:
        @hookimpl
        def advdl_register_datasets(self, register):
            register(DatasetSpec(name="old", loader="loaders_for_api_test:old_style", image_shape=(2, 2, 1)))
            register(DatasetSpec(name="new", loader="loaders_for_api_test:new_style", image_shape=(2, 2, 1),
                                 num_classes=2))

    registry = build_registry([Plugin()])
    old, new = load_dataset("old", registry, "DIR"), load_dataset("new", registry, "DIR")
    assert (old.name, old.source) == ("old", "old DIR")
    assert (new.name, new.num_classes, new.source, new.image_shape) == ("new", 2, "new DIR", (2, 2, 1))


@pytest.mark.parametrize("epochs", [-1, "5", 2.0, True, 10_001])
def test_a_dataset_with_a_bad_scorer_epochs_breaks_only_its_plugin(epochs):
    class Plugin:
        @hookimpl
        def advdl_register_datasets(self, register):
            register(DatasetSpec(name="bad", loader="m:f", scorer_epochs=epochs))

    registry = build_registry([Plugin()])
    assert "bad" not in registry.datasets and "mnist" in registry.datasets
    assert any("scorer_epochs must be an int in 0..10000" in e["error"] for e in registry.errors), registry.errors
