"""Generative runs: dataset runs whose models are scored against held-out images while they train.

The scoring classifier (the run setting ``scorer``, a supervised algorithm, ``cnn`` by default) is
trained once per dataset and cached as an ordinary run folder. That nested run is started with
the ``start_run`` function handed to the runner by whoever started the generative run, so nothing
here imports the code that starts runs.
"""

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from advdl.api.errors import ConfigError
from advdl.datasets.runner import DatasetRunner

SCORER_EPOCHS = 20  # the cnn: 99.0% test accuracy on the offline MNIST split
HELD_OUT_MIN = 1000  # keep_best: held-out training images scored every epoch (a Frechet distance needs many)
SCORER_SHIFT = 0.1  # its augmentation, where the classifier has one (augment_shift)


def cache_dir():
    return Path(os.environ.get("ADVDL_CACHE_DIR") or Path.home() / ".cache" / "advdl").expanduser()


def scorer_for(dataset, registry, start_run, classifier="cnn", progress=False):
    """The dataset's cached scorer (an ``advdl.api.scoring.Scorer``), trained first if needed as a
    ``classifier`` run started with ``start_run`` (``advdl.runs.start.train``)."""
    from advdl.api.scoring import Scorer
    from advdl.settings.resolve import resolve
    from advdl.settings.values import fields_of

    spec = registry.algorithm(classifier)
    if spec.family != "supervised":
        raise ConfigError(f"scorer: '{classifier}' is a {spec.family} algorithm; the scorer is a classifier "
                          f"(a supervised algorithm, e.g. cnn)")
    shift = {"augment_shift": SCORER_SHIFT} if "augment_shift" in {f.name for f, _ in fields_of(spec.config)} else {}
    epochs = registry.dataset(dataset.name).scorer_epochs or SCORER_EPOCHS
    recipe = f"{classifier}-{epochs}" + (f"-shift{SCORER_SHIFT}" if shift else "")  # a new recipe: a new scorer
    digest = hashlib.sha256(recipe.encode() + dataset.x_train.tobytes() + dataset.y_train.tobytes()).hexdigest()[:12]
    run_dir = cache_dir() / "scorers" / f"{dataset.name}-{digest}"
    model_path = run_dir / "model.keras"
    if not model_path.is_file():
        with _one_trainer(run_dir.with_name(run_dir.name + ".lock")):
            if not model_path.is_file():  # else another process trained it while this one waited
                shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished earlier attempt
                run_config, algo_config, preset = resolve(spec, data=dataset.name, preset="none",
                                                          run_flags={"epochs": epochs, "seed": 0},
                                                          hyper_flags=shift)
                start_run(spec, run_config, algo_config, run_dir, registry, preset, progress=progress,
                          dataset=dataset)
    return Scorer(model_path)


@contextmanager
def _one_trainer(lock_path):
    """Hold ``lock_path`` for the block, waiting while another process holds it: parallel runs (a
    sweep's, or two shells') share the cache, and one trains a missing scorer while the rest wait
    for it instead of deleting its unfinished folder."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; parallel first runs are then the user's to avoid
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes
        yield


class GenerativeRunner(DatasetRunner):
    def scorer_factory(self, run_config):
        """``make(dataset) -> Scorer``: the run's ``scorer`` classifier for a dataset, trained once per
        dataset (cached on disk, and here for this run)."""
        if self.start_run is None:
            raise ConfigError(f"{self.spec.name} is scored while it trains: start it with advdl.runs.start.train, "
                              f"which hands its runner the means to train the scoring classifier")
        made = {}

        def make(dataset):
            if id(dataset) not in made:
                made[id(dataset)] = (dataset, scorer_for(dataset, self.registry, self.start_run, run_config.scorer))
            return made[id(dataset)][1]

        return make

    def hand_scorers(self, model, run_config, dataset):
        """``model.scorer`` (the run's dataset) and ``model.scorer_for`` (the same for another dataset the
        model scores, as the model holds it: CycleGAN's second domain, resized to the first's size)."""
        model.scorer_for = self.scorer_factory(run_config)
        model.scorer = model.scorer_for(dataset)
        return model.scorer

    def prepare_model(self, model, run_config, run_dir, **given):
        model.run_dir = run_dir
        if model.scored:
            self.hand_scorers(model, run_config, self.dataset)

    def training_split(self, dataset, run_config, model):
        """With keep_best: the last 10% of the training images (at least 1,000, at most half) held out of
        training, scored every epoch to choose the epoch kept; the test split is kept for the final score, so
        the reported number is not the one the choice was made on."""
        if run_config.keep_best == "none":
            return dataset
        if run_config.keep_best not in model.test_metric_names:
            raise ConfigError(f"keep_best={run_config.keep_best}: {self.spec.name} scores "
                              f"{', '.join(model.test_metric_names)} every epoch, not {run_config.keep_best}")
        held = min(len(dataset.x_train) // 2, max(HELD_OUT_MIN, len(dataset.x_train) // 10))
        from dataclasses import replace

        return replace(dataset, x_train=dataset.x_train[:-held], y_train=dataset.y_train[:-held],
                       x_test=dataset.x_train[-held:], y_test=dataset.y_train[-held:])

    def final_metrics(self, trainer, model):
        if trainer.keep_best == "none":
            return super().final_metrics(trainer, model)
        kept = trainer.restore_best()
        test = model.evaluate(self.dataset.x_test, self.dataset.y_test)
        held = len(trainer.data.x_test)
        return ({name: test[name] for name in model.test_metric_names if name in test},
                kept and kept | {"scored_on": f"{held} held-out training images"})

    def score(self, run_dir, run_config, algo_config, n=1000, seed=0):
        """Scores of ``n`` samples against the held-out images, with the real-data floor."""
        from advdl.api.scoring import score
        from advdl.datasets.images import generate_samples

        model, dataset = self.load_finished(run_dir, run_config, algo_config)
        images, labels = generate_samples(self.spec, model, dataset, n, seed=seed)
        scorer = self.hand_scorers(model, run_config, dataset)
        floor_images = dataset.x_train[:len(dataset.x_test)]
        result = score(scorer, images, dataset.x_test, labels if model.conditional else None, floor_images)
        return result | model.extra_scores(scorer, n, seed, dataset)
