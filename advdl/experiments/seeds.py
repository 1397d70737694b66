"""Multi-seed runs: every seed trains as its own ``advdl run`` process into ``OUT/seed-K`` (up to
``workers`` at a time), then an aggregate over the seeds: ``aggregate.json`` and ``aggregate.png``.

Re-running the same command continues: finished seeds are kept, interrupted ones resume from their
checkpoint, missing ones start.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from advdl.api.errors import ConfigError
from advdl.settings.values import MAX_SEED

MAX_SEEDS = 10_000
SETTINGS_FILE = "seeds.yaml"  # the resolved settings every seed runs with (not a run folder's config.yaml)


def parse_seeds(text):
    """'0-4', '0,1,2' or '0-2,7' -> [0, 1, 2, ...] (each seed once, in order; at most MAX_SEEDS, each in
    0..MAX_SEED)."""
    if not str(text).strip():
        raise ConfigError("--seeds: no seeds given; give them like 0-4 or 0,1,2")
    seeds = {}  # a dict keeps the order and finds repeats at once
    for part in str(text).replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        too_long = match and any(len(d) > 30 for d in match.groups() if d)  # int() of thousands of digits fails
        if not match or too_long or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ConfigError(f"--seeds: expected seeds like 0-4 or 0,1,2 (each in 0..{MAX_SEED}), got "
                              f"{str(text) if len(str(text)) < 60 else str(text)[:50] + '...'!r}")
        first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if last - first + 1 + len(seeds) > MAX_SEEDS:  # before a range of billions fills the memory
            raise ConfigError(f"--seeds: more than {MAX_SEEDS:,} seeds in {text!r}")
        if last > MAX_SEED:
            raise ConfigError(f"--seeds: a seed must be in 0..{MAX_SEED} (2**31-1), got {last}")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)


def check_workers(workers, report=print):
    """--workers below 1 is an error; more than the CPUs of this machine a warning (the seeds' processes
    share them, each slower: the whole takes as long or longer)."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    cpus = os.cpu_count()
    if cpus and workers > cpus:
        report(f"advdl: warning: --workers {workers:,} is more than the {cpus} CPUs of this machine; the seeds' "
               f"processes will share them (no faster than --workers {cpus})")


def seed_command(algorithm, out, seed):
    """The ``advdl run`` command that trains (or continues) OUT/seed-K, or None when it finished."""
    from advdl.runs.checkpoint import list_checkpoints

    folder = Path(out) / f"seed-{seed}"
    if (folder / "summary.json").is_file():
        return None  # finished
    if (folder / "config.yaml").is_file():
        if list_checkpoints(folder / "checkpoints"):
            return [sys.executable, "-m", "advdl", "run", "--resume", str(folder), "--no-progress"]
        shutil.rmtree(folder)  # stopped before its first checkpoint: nothing to resume, so it starts again
    return [sys.executable, "-m", "advdl", "run", algorithm, "--config", str(Path(out) / SETTINGS_FILE),
            "--seed", str(seed), "--out", str(folder), "--no-progress"]


def write_settings(out, spec, run_config, algo_config, preset):
    """The resolved settings as a config file; a second run into ``out`` must bring the same ones."""
    import yaml

    from advdl.runs.checkpoint import write_atomic
    from advdl.runs.start import config_data

    data = config_data(spec, run_config, algo_config, preset)
    data.pop("seed")  # each seed's process gets its own --seed
    text = yaml.safe_dump(data, sort_keys=False)
    path = Path(out) / SETTINGS_FILE
    if path.is_file() and path.read_text() != text:
        raise ConfigError(f"{out} holds a multi-seed run with other settings ({path}); choose another --out")
    Path(out).mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode())


def run_seeds(spec, run_config, algo_config, preset, out, seeds, workers=1, report=print):
    """Train every seed (``workers`` processes at a time); returns {seed: summary or None} and
    writes the aggregate."""
    check_workers(workers, report)
    from advdl.runs import folder as runfolder
    from advdl.runs.checkpoint import write_atomic

    out = Path(out)
    if (out / "config.yaml").is_file():
        raise ConfigError(f"{out} holds a single run; choose another --out for a multi-seed run")
    if not (out / SETTINGS_FILE).is_file():  # a multi-seed folder continues; anything else must be new or empty
        runfolder.check_new(out)
    runfolder.prepare(out)
    with runfolder.lock(out):
        runfolder.scan(out)
        write_settings(out, spec, run_config, algo_config, preset)
        summaries = run_processes(out, {seed: seed_command(spec.name, out, seed) for seed in seeds}, workers, report,
                                  "seed")
        finished = {s: summary for s, summary in summaries.items() if summary is not None}
        if finished:
            result = aggregate(spec, finished)
            result["failed_seeds"] = [s for s in seeds if summaries[s] is None]
            write_atomic(out / "aggregate.json", (json.dumps(result, indent=2) + "\n").encode())
            plot_aggregate(out / "aggregate.png", spec, finished)
    return summaries


def run_processes(out, commands, workers, report, label):
    """Run each seed's command (None: already finished), ``workers`` at a time, its output in
    OUT/seed-K.log; returns {seed: OUT/seed-K/summary.json's content, or None if it failed}."""
    from advdl.runs.folder import open_regular

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))

    def run(seed):
        command, log_path, summary = commands[seed], out / f"seed-{seed}.log", out / f"seed-{seed}" / "summary.json"
        if command is None:
            report(f"{label} {seed}: already finished")
        else:
            with open_regular(log_path, "a") as log:
                code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
            report(f"{label} {seed}: " + ("finished" if code == 0 else f"failed (exit {code}); see {log_path}"))
        return seed, json.loads(summary.read_text()) if summary.is_file() else None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(run, commands))


def aggregate(spec, summaries):
    """Per-seed finals and their statistics (the family's: RL final evaluation means, datasets' test metrics)."""
    from advdl.api.stats import describe
    from advdl.runs.start import runner_for

    seeds = sorted(summaries)
    return {"algorithm": spec.name, "seeds": seeds} | runner_for(spec).aggregate([summaries[s] for s in seeds], describe)


def curves(spec, summaries):
    """(x, y) per seed: the family's learning curve of each summary (RL: evaluation means against env steps)."""
    from advdl.runs.start import runner_for

    runner = runner_for(spec)
    return [runner.curve(summary) for summary in summaries.values()]


def plot_aggregate(path, spec, summaries):
    from advdl.api.plots import seed_curves
    from advdl.runs.start import runner_for

    first = next(iter(summaries.values()))
    xlabel, ylabel, threshold = runner_for(spec).curve_axes(first)
    target = first[spec.family_spec.target]
    seed_curves(path, {spec.name: curves(spec, summaries)}, f"{spec.name} on {target}, {len(summaries)} seeds",
                xlabel, ylabel, threshold)
