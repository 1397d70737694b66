"""advdl run: one command per algorithm, its options from its family's Runner and its config."""

import json
from pathlib import Path

import click

from advdl.api.errors import AdvdlError, ConfigError
from advdl.commands.common import _plain, _show, registry
from advdl.settings.resolve import run_keys, split_settings
from advdl.settings.values import describe_type, fields_of, parse_assignments


def _run_options(spec):
    """Click options of `advdl run ALGO`: its family's (the Runner's), then those every run shares."""
    target = _runner_class(spec).options()
    flag = f"--{spec.family_spec.target}"
    return target + [
        click.Option(["--seed"], type=int, help="Random seed [default: 0]."),  # checked with --set seed=...
        click.Option(["--seeds"], metavar="SEEDS", help="Train every seed (e.g. 0-4 or 0,1,2) into OUT/seed-K and write "
                                                        "an aggregate over them (aggregate.json, aggregate.png)."),
        click.Option(["--workers"], type=click.IntRange(min=1), default=1, show_default=True,
                     help="With --seeds: seeds trained at the same time, each in its own process."),
        click.Option(["--preset"], help=f"A named preset from `advdl info ALGO` [default: the one named after "
                                        f"{flag}, if any]."),
        click.Option(["--config", "config_file"], type=click.Path(dir_okay=False),
                     help="YAML config file (a run's config.yaml re-runs it)."),
        click.Option(["--set", "assignments"], multiple=True, metavar="KEY=VALUE",
                     help="Set a hyperparameter or run setting; repeatable."),
        click.Option(["--out"], type=click.Path(file_okay=False),
                     help="The run folder to write [default: runs/ALGO-ENV-sSEED-TIME]."),
        click.Option(["--resume"], type=click.Path(file_okay=False),
                     help="Continue the interrupted run in this folder."),
        click.Option(["--deterministic"], is_flag=True, default=None,
                     help="Strict determinism: oneDNN's custom CPU kernels off, one thread for TensorFlow's ops "
                          "(TensorFlow's deterministic ops are always on); slower."),
        click.Option(["--progress/--no-progress"], default=True, help="Show a progress bar (on a terminal)."),
    ]


def _algorithm_command(spec):
    params = _run_options(spec)
    taken = {p.name for p in params} | set(run_keys(spec)) | {"config", "set"}
    hyper_names = []
    for f, tp in fields_of(spec.config):
        if f.name in taken:
            continue
        hyper_names.append(f.name)
        params.append(click.Option(
            [f"--{f.name.replace('_', '-')}", f.name], default=None, metavar=describe_type(tp).upper(),
            help=f"{f.metadata.get('help', '')} [default: {_show(_plain(f.default))}]"))

    def callback(**kw):
        run_algorithm(spec.name, kw, hyper_names)

    return click.Command(spec.name, params=params, callback=callback, short_help=spec.summary,
                         help=f"{spec.summary}\n\nHyperparameters can also be set with --set NAME=VALUE "
                              f"or in a --config file. `advdl info {spec.name}` lists the presets.")


class RunGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(registry().algorithms)

    def get_command(self, ctx, name):
        spec = registry().algorithms.get(name)
        return _algorithm_command(spec) if spec else None

    def resolve_command(self, ctx, args):
        name = args[0]
        if name.startswith("-"):
            return super().resolve_command(ctx, args)
        registry().algorithm(name)  # raises with did-you-mean (or names conflicting plugins)
        return name, self.get_command(ctx, name), args[1:]


@click.group("run", cls=RunGroup, invoke_without_command=True, subcommand_metavar="ALGO [OPTIONS]")
@click.option("--resume", type=click.Path(file_okay=False), help="Continue the run in this folder.")
@click.option("--steps", type=int, help="With --resume: train up to this many env steps in total.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar (on a terminal).")
@click.pass_context
def run_group(ctx, resume, steps, progress):
    """Train an algorithm: advdl run ALGO --env ENV_ID [OPTIONS]; advdl run ALGO --help lists ALGO's options."""
    if ctx.invoked_subcommand is None:
        if not resume:
            click.echo(ctx.get_help())
            return
        from advdl.runs.start import resume as resume_run

        _report(resume_run(resume, registry(), steps=steps, progress=progress), resume)


def run_algorithm(name, kw, hyper_names):
    from advdl.settings.files import load_file
    from advdl.settings.resolve import resolve

    reg = registry()
    spec = reg.algorithm(name)
    if kw["resume"]:
        from advdl.runs.start import read_run
        from advdl.runs.start import resume as resume_run

        flags = {"config_file": "--config", "assignments": "--set", "env_kwargs": "--env-kwarg"}
        changed = [flags.get(key, f"--{key.replace('_', '-')}") for key, value in kw.items()
                   if key not in ("resume", "progress", "steps", "workers") and value not in (None, ())]
        if changed:
            raise AdvdlError(f"a resumed run keeps its settings (its config.yaml); {', '.join(changed)} "
                             f"cannot change them (only --steps can extend it)")
        resumed_spec = read_run(kw["resume"], reg)[0]
        if resumed_spec.name != name:
            raise AdvdlError(f"{kw['resume']} is a run of '{resumed_spec.name}', not '{name}'")
        _report(resume_run(kw["resume"], reg, steps=kw.get("steps"), progress=kw["progress"]), kw["resume"])
        return
    if kw.get("seeds") is not None and kw.get("seed") is not None:
        raise ConfigError("--seed and --seeds do not go together")
    target_key = spec.family_spec.target
    run_flags = {k: kw[k] for k in run_keys(spec) if k in kw and k not in (target_key, "env_kwargs")}
    hyper_flags = {k: kw[k] for k in hyper_names if kw[k] is not None}
    set_run, set_hyper = split_settings(spec, parse_assignments(kw["assignments"]))
    run_flags, hyper_flags = run_flags | set_run, hyper_flags | set_hyper
    if kw.get("env_kwargs"):
        run_flags["env_kwargs"] = list(kw["env_kwargs"])
    file_data = load_file(kw["config_file"]) if kw["config_file"] else None
    run_config, algo_config, preset = resolve(spec, target=kw.get(target_key), preset=kw["preset"],
                                              file_data=file_data, run_flags=run_flags, hyper_flags=hyper_flags)
    from advdl.runs.start import default_run_dir, runner_for, train

    runner = runner_for(spec, reg)
    runner.check(run_config)
    target = getattr(run_config, spec.family_spec.target)
    if kw.get("seeds") is not None:  # --seeds '' too: an error, not a single run
        return run_many(spec, run_config, algo_config, preset, kw)
    out = Path(kw["out"]) if kw["out"] else default_run_dir(name, target, run_config.seed)
    from advdl.runs.folder import check_new

    check_new(out)  # before the first line: a run goes only into a new or empty folder
    click.echo(f"advdl: {name} on {target} (seed {run_config.seed}, {runner.budget(run_config)}"
               f"{', preset ' + preset if preset else ''}) -> {out}", err=True)
    _report(train(spec, run_config, algo_config, out, reg, preset, progress=kw["progress"]), out)


def run_many(spec, run_config, algo_config, preset, kw):
    from advdl.experiments.seeds import parse_seeds, run_seeds
    from advdl.runs.start import default_run_dir

    seeds = parse_seeds(kw["seeds"])
    target = getattr(run_config, spec.family_spec.target)
    out = Path(kw["out"]) if kw["out"] else default_run_dir(spec.name, target, f"{seeds[0]}-{seeds[-1]}")
    click.echo(f"advdl: {spec.name} on {target}, seeds {kw['seeds']} ({kw['workers']} at a time) -> {out}", err=True)
    summaries = run_seeds(spec, run_config, algo_config, preset, out, seeds, kw["workers"],
                          report=lambda line: click.echo(line, err=True))
    failed = [s for s, summary in summaries.items() if summary is None]
    if len(failed) == len(seeds):
        raise AdvdlError(f"every seed failed; see the seed-K.log files in {out}")
    aggregate = json.loads((out / "aggregate.json").read_text())
    for name, value in aggregate.items():
        if isinstance(value, dict) and "iqm" in value:
            low, high = value["mean_ci95"]
            click.echo(f"{name:18s} mean {value['mean']:.4g} [{low:.4g}, {high:.4g}]  IQM {value['iqm']:.4g}  "
                       f"median {value['median']:.4g}  per seed: {', '.join(f'{v:.4g}' for v in value['values'])}")
    if aggregate.get("solved_fraction") is not None:
        click.echo(f"solved (final mean >= {aggregate['reward_threshold']:g}): {aggregate['solved_fraction']:.0%} of seeds")
    click.echo(f"Aggregate written to {out / 'aggregate.json'} and {out / 'aggregate.png'}"
               + (f"; failed seeds: {failed}" if failed else ""))


def _report(summary, run_dir):
    from advdl.datasets.distribute import is_chief, worker_task
    from advdl.runs.start import runner_for

    if not is_chief(summary.get("strategy", "default")):
        kind, index, _ = worker_task()
        click.echo(f"Finished as {kind} {index} of a multi-worker run; the chief wrote the run folder")
        return
    reg = registry()
    click.echo(runner_for(reg.algorithm(summary["algorithm"]), reg).report(summary, run_dir))


def _runner_class(spec):
    from advdl.runs.start import runner_class

    return runner_class(spec)
