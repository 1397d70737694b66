"""advdl eval: a finished run's saved model, evaluated."""

import json

import click

from advdl.commands.common import SEED, registry


@click.command("eval")
@click.argument("run_dir", type=click.Path())
@click.option("--episodes", default=20, show_default=True, type=click.IntRange(min=1), help="Evaluation episodes.")
@click.option("--seed", type=SEED, help="Seed of the evaluation episodes [default: the run's seed].")
@click.option("--json", "as_json", is_flag=True,
              help="Print {\"mean\", \"std\", \"episodes\"} (RL) or the test metrics (datasets) as JSON.")
@click.option("--record", type=click.Path(dir_okay=False), help="Write one greedy episode as an animation (.gif or .webp).")
@click.option("--model", "model_path", type=click.Path(),
              help="Evaluate this exported policy (.onnx, .tflite or a SavedModel folder, from advdl export) on the "
                   "run's environment instead of the run's saved model.")
def eval_command(run_dir, episodes, seed, as_json, record, model_path):
    """Evaluate a finished run's saved model (or an exported one) with the deterministic policy."""
    from advdl.runs.start import evaluate_run

    result = evaluate_run(run_dir, registry(), episodes, seed=seed, record=record, model=model_path)
    if as_json:
        click.echo(json.dumps(result))
    elif "mean" not in result:  # a model on a dataset: its test metrics
        click.echo(", ".join(f"{k} {v:.4f}" for k, v in result.items()))
    else:
        click.echo(f"mean {result['mean']:.2f} +/- {result['std']:.2f} over {result['episodes']} episodes"
                   + (f"; recording written to {record}" if record else ""))


