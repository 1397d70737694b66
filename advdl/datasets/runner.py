"""Dataset runs (the ``supervised`` family, and the base of the ``generative`` one): a Model trained on
a dataset's images by the DataTrainer, on one device or under a tf.distribute strategy."""

import math
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

from advdl.api.errors import CheckpointError, ConfigError
from advdl.loading.registry import plugin_call
from advdl.runs import folder as runfolder
from advdl.runs.family import Runner, load_final, versions


class DatasetRunner(Runner):
    unit = "batch"

    @classmethod
    def options(cls):
        import click

        return [
            click.Option(["--data"], help="Dataset name (e.g. mnist; `advdl list` shows them)."),
            click.Option(["--data-dir"], type=click.Path(file_okay=False),
                         help="Offline directory with the dataset's files [default: $ADVDL_DATA_DIR]."),
            click.Option(["--epochs"], type=int, help="Passes over the training images [default: preset or 10]."),
            click.Option(["--checkpoint-interval"], type=int,
                         help="Also checkpoint every N batches inside an epoch [default: 0, at epoch ends only]."),
            click.Option(["--strategy"], type=click.Choice(["default", "mirrored", "multiworker"]),
                         help="tf.distribute strategy: one device, this machine's GPUs (or --replicas CPU devices), "
                              "or the workers TF_CONFIG names [default: default]."),
            click.Option(["--replicas"], type=int, help="With --strategy mirrored: replicas (0: one per GPU; without "
                                                        "GPUs, the CPU split into this many devices) [default: 0]."),
        ]

    def check(self, run_config, dataset=None):
        if run_config.strategy != "default" and not self.spec.load_class().distributable:
            raise ConfigError(f"{self.spec.name} does not support --strategy {run_config.strategy}; it trains with "
                              f"the default strategy (one device)")
        if dataset is None:
            self.registry.dataset(run_config.data)  # an unknown name fails before TensorFlow starts

    def budget(self, run_config):
        return f"{run_config.epochs} epochs"

    @contextmanager
    def folder(self, run_config, run_dir, new):
        """A multi-worker run's folder is the chief's; the other workers write a scratch copy."""
        import shutil
        import tempfile

        from advdl.runs.workers import is_chief

        if is_chief(run_config.strategy):
            with runfolder.opened(run_dir, new=new) as guard:
                yield guard
            return
        scratch = Path(tempfile.mkdtemp(prefix="advdl-worker-"))
        try:
            yield runfolder.Guard(scratch, created=False)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def build_model(self, run_config, algo_config, dataset=None, strategy=None):
        """The model and its dataset (loaded unless given), after checking the model can use the dataset;
        with a tf.distribute ``strategy``, built in its scope."""
        from advdl.api.interfaces import DataInfo
        from advdl.datasets.data import load_dataset

        spec, registry = self.spec, self.registry
        dataset = dataset or load_dataset(run_config.data, registry, run_config.data_dir or None)
        info = DataInfo(dataset.name, tuple(dataset.image_shape), dataset.num_classes)
        model_class = spec.load_class()
        class_name = getattr(model_class, "__name__", spec.factory)
        plugin_call(spec, f"{class_name}.check_data(...)", model_class.check_data, info)
        wanted = plugin_call(spec, f"{class_name}.extra_datasets(...)",
                             lambda: dict(model_class.extra_datasets(algo_config)))
        extras = {role: load_dataset(name, registry, run_config.data_dir or None) for role, name in wanted.items()}
        batches = math.ceil(len(dataset.x_train) / algo_config.batch_size)
        with strategy.scope() if strategy is not None else nullcontext():
            model = plugin_call(spec, f"{class_name}(...)", model_class, algo_config, info, seed=run_config.seed,
                                total_steps=batches * run_config.epochs, **extras)
        return model, dataset

    def build(self, run_config, algo_config, run_dir, callbacks, progress, dataset=None, **given):
        from advdl.datasets.distribute import make_strategy
        from advdl.datasets.trainer import DataTrainer

        strategy = make_strategy(run_config.strategy, run_config.replicas)
        model, loaded = self.build_model(run_config, algo_config, dataset, strategy)
        if loaded.note and dataset is None:  # a caller that passes the dataset has reported its note already
            print(f"advdl: {run_config.data}: {loaded.note}", file=sys.stderr)
        self.dataset = loaded
        policy, why = precision_of(model)
        print(f"advdl: precision {policy} ({why})", file=sys.stderr)
        self.prepare_model(model, run_config, run_dir, **given)
        return DataTrainer(model, self.training_split(loaded, run_config, model), run_config, run_dir, progress,
                           callbacks, strategy)

    def training_split(self, dataset, run_config, model):
        """The dataset the trainer trains on and evaluates every epoch (its test split): the run's own here."""
        return dataset

    def final_metrics(self, trainer, model):
        """(the test metrics the summary reports, the kept epoch or None): the last epoch's evaluation here."""
        last = trainer.history[-1]
        return {name: last[name] for name in model.test_metric_names if name in last}, None

    def prepare_model(self, model, run_config, run_dir, **given):
        """What the model gets before training besides its constructor's arguments (generative: scorers)."""

    def finish(self, trainer, run_config, run_dir, preset):
        from advdl.api.plots import epoch_curves

        model, dataset = trainer.model, self.dataset
        test, kept = self.final_metrics(trainer, model)  # (keep_best restores the kept epoch's weights first)
        runfolder.write_staged(run_dir, lambda stage: model.save_model(stage / model.model_file))
        summary = {
            "algorithm": self.spec.name, "data": run_config.data, "seed": run_config.seed, "preset": preset,
            **test, "final": test, "epochs": run_config.epochs, "steps": trainer.step,
            "train_images": len(trainer.data.x_train), "test_images": len(dataset.x_test),
            "data_source": dataset.source, "data_note": dataset.note,
            "parameters": model.count_params(), "strategy": run_config.strategy, "replicas": trainer.replicas,
            "precision": dict(zip(("policy", "why"), precision_of(model))),
            "wall_seconds": round(trainer.wall_seconds(), 3),
            "images_per_second": round(trainer.images_per_second(), 1),
            "history": trainer.history, "model": model.model_file, "kept_best": kept,
            "versions": versions(),
        }
        epoch_curves(run_dir / "learning_curves.png", trainer.history, model.metric_names, model.test_metric_names,
                     f"{self.spec.name} on {run_config.data} (seed {run_config.seed})")
        model.write_figures(run_dir, dataset)
        return summary

    @staticmethod
    def check_state(state, path):
        from advdl.datasets.trainer import check_state

        check_state(state, path)

    def resume_settings(self, run_config, state, steps, run_dir, finished):
        if steps is not None:
            raise CheckpointError("--steps extends RL runs; a run on a dataset trains for its configured epochs")
        if finished:
            raise CheckpointError(f"{run_dir} already finished its {run_config.epochs} epochs")
        return run_config

    def load_finished(self, run_dir, run_config, algo_config):
        """(model with the run's final weights, dataset) of a finished run."""
        model, dataset = self.build_model(run_config, algo_config)
        load_final(run_dir, model)
        return model, dataset

    def export_parts(self, run_dir, run_config, algo_config):
        from advdl.runs.family import export_parts_of

        model, dataset = self.load_finished(run_dir, run_config, algo_config)
        return export_parts_of(self.spec, model, dataset.x_test, dataset.y_test), {}

    def evaluate(self, run_dir, run_config, algo_config, episodes, seed, record):
        if record:
            raise ConfigError(f"--record animates an RL episode; {run_dir} is a {self.spec.family} run on "
                              f"{run_config.data}")
        model, dataset = self.load_finished(run_dir, run_config, algo_config)
        return model.evaluate(dataset.x_test, dataset.y_test)

    def report(self, summary, run_dir):
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in summary["final"].items())
        return (f"Finished {summary['algorithm']} on {summary['data']}: {summary['epochs']} epochs in "
                f"{summary['wall_seconds']:.1f} s ({summary['images_per_second']:.0f} images/s); {metrics}. "
                f"Run folder: {run_dir}")

    def aggregate(self, runs, describe):
        names = [k for k in runs[0].get("final", {}) if isinstance(runs[0]["final"][k], (int, float))]
        return {"data": runs[0]["data"], "epochs": runs[0]["epochs"],
                **{name: describe([r["final"][name] for r in runs]) for name in names},
                "wall_seconds": describe([r["wall_seconds"] for r in runs])}

    def curve(self, summary):
        rows = summary.get("history") or []
        name = next(iter(summary.get("final", {})), None)
        return [r["epoch"] for r in rows], [r.get(name) for r in rows]

    def curve_axes(self, summary):
        return "epoch", next(iter(summary.get("final", {})), "metric"), None


def precision_of(model):
    """(Keras dtype policy, why) a model computes in: its ``precision`` attribute, else float32."""
    precision = getattr(model, "precision", None)
    return tuple(precision) if precision else ("float32", "the model's own")
