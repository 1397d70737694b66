"""The ``advdl`` command line. Listing and help never import TensorFlow."""

import json
import os
import sys
import traceback
from pathlib import Path

import click

from advdl import __version__
from advdl.api.errors import AdvdlError, ConfigError, RunInterrupted
from advdl.settings.config import MAX_SEED, describe_type, fields_of, parse_assignments, run_config_class, run_keys

SEED = click.IntRange(0, MAX_SEED)  # what keras.utils.set_random_seed takes, with room for the offsets added to seeds


def registry():
    from advdl.loading.manager import get_registry

    return get_registry()


def main(argv=None):
    """Entry point: user mistakes become one ``Error: ...`` line and a non-zero exit code."""
    try:
        cli.main(args=argv, prog_name="advdl", standalone_mode=False)
    except RunInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    except AdvdlError as exc:
        if os.environ.get("ADVDL_DEBUG") == "1":  # the traceback behind the one line (a plugin's, say)
            traceback.print_exception(exc.__cause__ or exc)
        click.echo(f"Error: {_one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `advdl`: show the help
        click.echo(exc.ctx.get_help())
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo("Aborted.", err=True)
        sys.exit(130)


def _one_line(message):
    """The message as one line: control and invisible characters (from the user's input) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, no_args_is_help=True)
@click.version_option(__version__, prog_name="advdl")
def cli():
    """advdl: the algorithms of "Advanced Deep Learning with Keras", fast and reproducible.

    \b
    Plugin switches (environment variables, comma separated):
      ADVDL_PLUGINS=dist,...        load only these distributions' plugins
      ADVDL_BLOCK_PLUGINS=name,...  never load these plugins (entry-point names)
      ADVDL_STRICT_PLUGINS=1        fail on the first broken plugin
      ADVDL_TRACE_HOOKS=1           print every hook call
      ADVDL_PLUGIN_TIMEOUT=SECONDS  skip a plugin slower to import (default 10)
      ADVDL_DEBUG=1                 show the traceback behind an Error: line
    """


# -- list / info ---------------------------------------------------------------------------------
def listing():
    reg = registry()
    return {
        "algorithms": [
            {"name": s.name, "family": s.family, "summary": s.summary, "distribution": s.distribution,
             "version": s.version, "plugin": s.plugin, "presets": sorted(s.presets), "paper": s.paper}
            for s in sorted(reg.algorithms.values(), key=lambda s: (s.family, s.name))
        ],
        "envs": [
            {"id": e.id, "summary": e.summary, "distribution": e.distribution, "version": e.version,
             "plugin": e.plugin}
            for e in sorted(reg.envs.values(), key=lambda e: e.id)
        ],
        "datasets": [
            {"name": d.name, "summary": d.summary, "image_shape": list(d.image_shape), "distribution": d.distribution,
             "version": d.version, "plugin": d.plugin}
            for d in sorted(reg.datasets.values(), key=lambda d: d.name)
        ],
        "errors": list(reg.errors),
    }


def _table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_command(as_json):
    """List the algorithms, environments, datasets and broken plugins."""
    data = listing()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    rows = [(a["name"], a["family"], a["summary"], f"{a['distribution']} {a['version']}".strip())
            for a in data["algorithms"]]
    click.echo("Algorithms\n" + _indent(_table(rows, ("NAME", "FAMILY", "SUMMARY", "FROM"))))
    rows = [(e["id"], e["summary"], f"{e['distribution']} {e['version']}".strip()) for e in data["envs"]]
    click.echo("\nEnvironments (besides Gymnasium's own)\n" + _indent(_table(rows, ("ID", "SUMMARY", "FROM"))))
    rows = [(d["name"], d["summary"], f"{d['distribution']} {d['version']}".strip()) for d in data["datasets"]]
    click.echo("\nDatasets (--data NAME)\n" + _indent(_table(rows, ("NAME", "SUMMARY", "FROM"))))
    if data["errors"]:
        click.echo("\nBroken plugins (the rest work; see ADVDL_BLOCK_PLUGINS)")
        for err in data["errors"]:
            click.echo(f"  {err['plugin']} ({err['distribution'] or 'no distribution'}): {err['error']}")


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


@cli.command("info")
@click.argument("algorithm")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info_command(algorithm, as_json):
    """Show an algorithm's hyperparameters (default and help) and presets."""
    spec = registry().algorithm(algorithm)
    params = [{"name": f.name, "type": describe_type(tp), "default": _plain(f.default),
               "help": f.metadata.get("help", "")} for f, tp in fields_of(spec.config)]
    run = [{"name": f.name, "type": describe_type(tp), "default": _plain(f.default),
            "help": f.metadata.get("help", "")} for f, tp in fields_of(run_config_class(spec))]
    presets = {name: p for name, p in spec.presets.items()}
    if as_json:
        click.echo(json.dumps({"name": spec.name, "family": spec.family, "summary": spec.summary,
                               "paper": spec.paper, "distribution": spec.distribution,
                               "version": spec.version, "hyperparameters": params,
                               "run_settings": run, "presets": presets}, indent=2, default=str))
        return
    click.echo(f"{spec.name} ({spec.family}) from {spec.distribution} {spec.version}: {spec.summary}")
    if spec.paper:
        click.echo(f"Paper: {spec.paper}")
    click.echo("\nHyperparameters (--NAME VALUE or --set NAME=VALUE)")
    click.echo(_indent(_table([(p["name"], p["type"], _show(p["default"]), p["help"]) for p in params],
                              ("NAME", "TYPE", "DEFAULT", "HELP"))))
    click.echo("\nRun settings")
    click.echo(_indent(_table([(p["name"], p["type"], _show(p["default"]), p["help"]) for p in run],
                              ("NAME", "TYPE", "DEFAULT", "HELP"))))
    target = "--env" if spec.family == "rl" else "--data"
    click.echo(f"\nPresets (--preset NAME; a preset named after the {target} is applied automatically)")
    if not presets:
        click.echo("  none")
    for name, p in presets.items():
        changed = ", ".join(f"{k}={_show(v)}" for k, v in {**p.get("run", {}), **p.get("hyperparameters", {})}.items())
        env = f" [env {p['env']}]" if p.get("env") else f" [data {p['data']}]" if p.get("data") else ""
        click.echo(f"  {name}{env}: {p.get('description', '')}\n      {changed}")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _show(value):
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    return "none" if value is None else str(value)


# -- run -------------------------------------------------------------------------------------------
def _run_options(spec):
    """Click options shared by every `advdl run ALGO` command of the algorithm's family."""
    if spec.family == "rl":
        target = [
            click.Option(["--env"], help="Gymnasium environment id (e.g. CartPole-v1)."),
            click.Option(["--steps"], type=int, help="Environment steps to train for [default: preset or 100000]."),
            click.Option(["--episodes"], type=int,
                         help="Also stop after this many training episodes [default: preset or 0, no limit]."),
            click.Option(["--env-kwarg", "env_kwargs"], multiple=True, metavar="KEY=VALUE",
                         help="Keyword argument for gymnasium.make (e.g. is_slippery=false); repeatable."),
            click.Option(["--eval-interval"], type=int, help="Evaluate every N env steps (0: never)."),
            click.Option(["--eval-episodes"], type=int, help="Episodes per periodic evaluation."),
            click.Option(["--final-eval-episodes"], type=int, help="Episodes of the final evaluation [default: 20]."),
            click.Option(["--checkpoint-interval"], type=int, help="Checkpoint every N env steps (0: only at the end)."),
            click.Option(["--vec"], type=click.Choice(["sync", "async"]),
                         help="Step the environments in this process (sync) or each in its own subprocess (async; "
                              "for environments slow to step) [default: sync]."),
        ]
    else:
        target = [
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
    return target + [
        click.Option(["--seed"], type=int, help="Random seed [default: 0]."),  # checked with --set seed=...
        click.Option(["--seeds"], metavar="SEEDS", help="Train every seed (e.g. 0-4 or 0,1,2) into OUT/seed-K and write "
                                                        "an aggregate over them (aggregate.json, aggregate.png)."),
        click.Option(["--workers"], type=click.IntRange(min=1), default=1, show_default=True,
                     help="With --seeds: seeds trained at the same time, each in its own process."),
        click.Option(["--preset"], help="A named preset from `advdl info ALGO` [default: the one named after "
                                        + ("--env" if spec.family == "rl" else "--data") + ", if any]."),
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


@cli.group("run", cls=RunGroup, invoke_without_command=True, subcommand_metavar="ALGO [OPTIONS]")
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
    from advdl.settings.config import load_file, resolve

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
    assignments = parse_assignments(kw["assignments"])
    keys = run_keys(spec)
    run_flags = {k: kw[k] for k in keys if k in kw and k not in ("env", "data", "env_kwargs")}
    hyper_flags = {k: kw[k] for k in hyper_names if kw[k] is not None}
    for key, value in assignments.items():
        (run_flags if key in keys else hyper_flags)[key] = value
    if kw.get("env_kwargs"):
        run_flags["env_kwargs"] = list(kw["env_kwargs"])
    file_data = load_file(kw["config_file"]) if kw["config_file"] else None
    run_config, algo_config, preset = resolve(spec, env=kw.get("env"), data=kw.get("data"), preset=kw["preset"],
                                              file_data=file_data, run_flags=run_flags, hyper_flags=hyper_flags)
    from advdl.runs.start import default_run_dir, train

    rl = spec.family == "rl"
    if rl:
        from advdl.rl.environments import check_env_id

        check_env_id(run_config.env, reg)
    target = run_config.env if rl else run_config.data
    if kw.get("seeds") is not None:  # --seeds '' too: an error, not a single run
        return run_many(spec, run_config, algo_config, preset, kw)
    out = Path(kw["out"]) if kw["out"] else default_run_dir(name, target, run_config.seed)
    from advdl.runs.folder import check_new

    check_new(out)  # before the first line: a run goes only into a new or empty folder
    budget = f"{run_config.steps} steps" if rl else f"{run_config.epochs} epochs"
    click.echo(f"advdl: {name} on {target} (seed {run_config.seed}, {budget}"
               f"{', preset ' + preset if preset else ''}) -> {out}", err=True)
    _report(train(spec, run_config, algo_config, out, reg, preset, progress=kw["progress"]), out)


def run_many(spec, run_config, algo_config, preset, kw):
    from advdl.experiments.seeds import parse_seeds, run_seeds
    from advdl.runs.start import default_run_dir

    seeds = parse_seeds(kw["seeds"])
    target = run_config.env if spec.family == "rl" else run_config.data
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

    if not is_chief(summary.get("strategy", "default")):
        kind, index, _ = worker_task()
        click.echo(f"Finished as {kind} {index} of a multi-worker run; the chief wrote the run folder")
        return
    if "env" not in summary:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in summary["final"].items())
        click.echo(f"Finished {summary['algorithm']} on {summary['data']}: {summary['epochs']} epochs in "
                   f"{summary['wall_seconds']:.1f} s ({summary['images_per_second']:.0f} images/s); {metrics}. "
                   f"Run folder: {run_dir}")
        return
    ev = summary["eval"]
    click.echo(f"Finished {summary['algorithm']} on {summary['env']}: {summary['env_steps']} steps in "
               f"{summary['wall_seconds']:.1f} s ({summary['steps_per_second']:.0f} steps/s); "
               f"evaluation mean {ev['mean']:.2f} +/- {ev['std']:.2f} over {ev['episodes']} episodes"
               + (f" (weights of step {kept['env_steps']}, the best evaluation)" if (kept := summary.get("kept_best"))
                  else "") + f". Run folder: {run_dir}")


# -- eval ------------------------------------------------------------------------------------------
@cli.command("eval")
@click.argument("run_dir", type=click.Path())
@click.option("--episodes", default=20, show_default=True, type=click.IntRange(min=1), help="Evaluation episodes.")
@click.option("--seed", type=SEED, help="Seed of the evaluation episodes [default: the run's seed].")
@click.option("--json", "as_json", is_flag=True,
              help="Print {\"mean\", \"std\", \"episodes\"} (RL) or the test metrics (datasets) as JSON.")
@click.option("--record", type=click.Path(dir_okay=False), help="Write one greedy episode as an animation (.gif or .webp).")
def eval_command(run_dir, episodes, seed, as_json, record):
    """Evaluate a finished run's saved model with the deterministic policy."""
    from advdl.runs.start import evaluate_run

    result = evaluate_run(run_dir, registry(), episodes, seed=seed, record=record)
    if as_json:
        click.echo(json.dumps(result))
    elif "mean" not in result:  # a model on a dataset: its test metrics
        click.echo(", ".join(f"{k} {v:.4f}" for k, v in result.items()))
    else:
        click.echo(f"mean {result['mean']:.2f} +/- {result['std']:.2f} over {result['episodes']} episodes"
                   + (f"; recording written to {record}" if record else ""))


# -- sample / score ----------------------------------------------------------------------------------
@cli.command("sample")
@click.argument("run_dir", type=click.Path())
@click.option("--n", "n", default=100, show_default=True, type=int, help="Images to generate.")
@click.option("--label", type=int, help="Class of every image (conditional models) [default: 0, 1, 2, ... cycling].")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the noise.")
@click.option("--sweep", "code", help="Vary one latent code along each row instead (InfoGAN: discrete, c1, c2); "
                                     "--n and --label do not apply.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="FILE.png: a grid; FILE.npz: arrays images (N, H, W, C, float32 in [0, 1]) and labels.")
def sample_command(run_dir, n, label, seed, code, out):
    """Generate images with a finished generative run's model."""
    from advdl.runs.start import check_out, check_sample_count, generate_samples, generate_sweep, load_generative, write_samples

    check_out(out)
    spec, _, model, dataset = load_generative(run_dir, registry())
    if code is not None:
        if label is not None:
            raise ConfigError("--label and --sweep do not go together")
        images, labels, columns = generate_sweep(spec, model, code, seed)
    else:
        check_sample_count(n, dataset, out)
        images, labels = generate_samples(spec, model, dataset, n, label, seed)
        columns = min(10, len(images))
    click.echo(f"{len(images)} images written to {write_samples(images, labels, out, columns)}")


@cli.command("compare")
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
    from advdl.settings.config import resolve

    reg = registry()
    spec = reg.algorithm(algorithm)
    counterpart(spec)
    check_available()
    check_env_id(env_id, reg)
    seed_list = parse_seeds(seeds)
    values = parse_assignments(assignments)
    keys = run_keys(spec)
    run_flags = {k: v for k, v in values.items() if k in keys} | ({"steps": steps} if steps else {})
    run_config, algo_config, preset = resolve(spec, env=env_id, preset=preset, run_flags=run_flags,
                                              hyper_flags={k: v for k, v in values.items() if k not in keys})
    safe = env_id.replace("/", "_")
    out = Path(out) if out else Path("runs") / f"compare-{algorithm}-{safe}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = compare(spec, run_config, algo_config, preset, out, seed_list, workers,
                     report=lambda line: click.echo(line, err=True))
    click.echo("\n".join(table(result)))
    click.echo(f"\nWritten: {out / 'compare.json'}, {out / 'compare.png'}")


@cli.command("sweep")
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


@cli.command("translate")
@click.argument("run_dir", type=click.Path())
@click.option("--direction", default="a2b", show_default=True,
              help="a2b: domain A's held-out images (the run's --data) into domain B; b2a: B's into A.")
@click.option("--n", "n", default=20, show_default=True, type=int, help="Held-out images to translate (the first N).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="FILE.png: rows of sources over rows of their translations; FILE.npz: arrays sources, images "
                   "(translations; N, H, W, C float32 in [0, 1]) and labels (the sources').")
def translate_command(run_dir, direction, n, out):
    """Translate held-out images with a finished two-domain run (CycleGAN)."""
    from advdl.runs.start import check_out, load_generative, translate_images

    check_out(out)
    spec, _, model, dataset = load_generative(run_dir, registry())
    path, count = translate_images(spec, model, dataset, direction, n, out)
    click.echo(f"{count} images translated {direction}, written to {path}")


@cli.command("score")
@click.argument("run_dir", type=click.Path())
@click.option("--n", "n", default=1000, show_default=True, type=int, help="Samples to score.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the noise.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def score_command(run_dir, n, seed, as_json):
    """Score a generative run's samples against held-out images: Frechet distance and KID on a
    classifier's features, the classifier score, label accuracy (conditional models), and the
    floor (the same between real training and held-out images)."""
    from advdl.runs.start import score_run

    result = score_run(run_dir, registry(), n, seed)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    floor = result.pop("floor")
    for key, value in result.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        click.echo(f"{key:18s} {shown}" + (f"   (real data: {floor[key]:.4f})" if key in floor else ""))
