"""advdl compare: an algorithm beside its Stable-Baselines3 counterpart."""

from pathlib import Path

import click

from advdl.commands.common import registry
from advdl.settings.resolve import split_settings
from advdl.settings.values import parse_assignments


@click.command("compare")
@click.argument("algorithm")
@click.option("--env", "env_id", required=True, help="Gymnasium environment id (e.g. CartPole-v1).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Seeds of both sides (e.g. 0-4 or 0,1,2).")
@click.option("--steps", type=int, help="Env steps per seed [default: the preset's, as advdl run].")
@click.option("--preset", help="advdl's preset [default: the one named after --env]; SB3 gets the same settings.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="A setting of both sides; repeatable.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds trained at the same time.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder of both sides' runs and the report "
                                                              "[default: runs/compare-ALGO-ENV-TIME].")
def compare_command(algorithm, env_id, seeds, steps, preset, assignments, workers, out):
    """Train ALGO and its Stable-Baselines3 counterpart (DQN, A2C) with the same settings, seeds and
    budget; evaluate both by advdl's protocol; print a side-by-side table (needs the baselines extra)."""
    import time

    from advdl.experiments.compare import check_available, compare, counterpart, table
    from advdl.experiments.seeds import parse_seeds
    from advdl.rl.environments import check_env_id
    from advdl.settings.resolve import resolve

    reg = registry()
    spec = reg.algorithm(algorithm)
    counterpart(spec)
    check_available()
    check_env_id(env_id, reg)
    seed_list = parse_seeds(seeds)
    run_flags, hyper_flags = split_settings(spec, parse_assignments(assignments))
    run_flags |= {"steps": steps} if steps else {}
    run_config, algo_config, preset = resolve(spec, env=env_id, preset=preset, run_flags=run_flags,
                                              hyper_flags=hyper_flags)
    safe = env_id.replace("/", "_")
    out = Path(out) if out else Path("runs") / f"compare-{algorithm}-{safe}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = compare(spec, run_config, algo_config, preset, out, seed_list, workers,
                     report=lambda line: click.echo(line, err=True))
    click.echo("\n".join(table(result)))
    click.echo(f"\nWritten: {out / 'compare.json'}, {out / 'compare.png'}")


