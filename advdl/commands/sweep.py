"""advdl sweep: a grid of settings x seeds as Ray Tune trials."""

import click

from advdl.api.errors import RunInterrupted
from advdl.commands.common import registry


@click.command("sweep")
@click.argument("algorithm")
@click.option("--env", help="RL: the Gymnasium environment id (e.g. CartPole-v1).")
@click.option("--data", help="Supervised and generative models: the dataset name (e.g. mnist).")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="A hyperparameter or run setting and its values to try; repeatable (every combination is "
                   "tried). List values in brackets: --grid 'hidden_sizes=[64,64],[256]'.")
@click.option("--seeds", default="0", show_default=True, help="Seeds of every combination (e.g. 0-4 or 0,1,2).")
@click.option("--preset", help="A named preset from `advdl info ALGO` [default: the one named after --env/--data].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML config file of the fixed settings (a run's config.yaml, a sweep's best.yaml).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A setting fixed for every trial; repeatable.")
@click.option("--env-kwarg", "env_kwargs", multiple=True, metavar="KEY=VALUE",
              help="RL: keyword argument for gymnasium.make (e.g. is_slippery=false); repeatable.")
@click.option("--steps", type=int, help="RL: env steps per trial [default: the preset's, as advdl run].")
@click.option("--epochs", type=int, help="Datasets: epochs per trial [default: the preset's, as advdl run].")
@click.option("--metric", help="What ranks the combinations [default: RL eval_mean (the final evaluation's mean "
                                "return); datasets test_accuracy, else the model's first test metric].")
@click.option("--mode", type=click.Choice(["max", "min"]),
              help="Whether a higher or lower --metric is better [default: max for returns, accuracies, ELBOs, "
                   "solved and throughput; min for the rest: losses, errors, distances, times].")
@click.option("--statistic", type=click.Choice(["mean", "iqm", "median"]), default="mean", show_default=True,
              help="The statistic over the seeds that ranks.")
@click.option("--address", envvar="RAY_ADDRESS", metavar="HOST:PORT",
              help="Join this Ray cluster (started with `ray start --head`) [default: $RAY_ADDRESS, else an "
                   "embedded local Ray on this machine].")
@click.option("--max-concurrent", type=click.IntRange(min=1),
              help="Trials at the same time [default: as many as Ray's CPUs allow].")
@click.option("--cpus-per-trial", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="CPUs Ray reserves for each trial (TensorFlow in the trial uses as many threads).")
@click.option("--out", type=click.Path(file_okay=False),
              help="The sweep's folder [default: runs/sweep-ALGO-TARGET-TIME]; the same command again with the "
                   "same --out continues it.")
def sweep_command(algorithm, out, address, max_concurrent, cpus_per_trial, **options):
    """Train every combination of --grid values, with every seed, as Ray Tune trials (on this machine or a Ray
    cluster); rank the combinations by a metric over the seeds. Needs the distributed extra."""
    from advdl.experiments.results import interrupted, table
    from advdl.experiments.sweep import plan, run

    reg = registry()
    sweep = plan(reg.algorithm(algorithm), reg, out=out, **options)
    result = run(sweep, address=address, max_concurrent=max_concurrent, cpus_per_trial=cpus_per_trial,
                 report=lambda line: click.echo(line, err=True))
    click.echo("\n".join(table(result)))
    click.echo(f"\nWritten: {sweep.out / 'sweep.json'}, {sweep.out / 'sweep.csv'}, {sweep.out / 'best.yaml'} "
               f"(advdl run {algorithm} --config {sweep.out / 'best.yaml'})"
               + (f", {sweep.out / 'sweep.png'}" if (sweep.out / "sweep.png").is_file() else ""))
    if result["unfinished"]:
        raise RunInterrupted(interrupted(len(result["unfinished"]), sweep.trials))


