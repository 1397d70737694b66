"""``advdl sweep``: every combination of a grid of settings, with every seed, as a Ray Tune trial.

A trial is one (combination, seed) and runs exactly ``advdl run``, in its own process, into
``OUT/trials/NN-KEY=VALUE.../seed-K``: each combination's folder is a multi-seed run folder (its
settings in ``seeds.yaml``, as ``advdl run --seeds`` writes). Ray Tune schedules the trials, on an
embedded local Ray or on a cluster (``--address``); Tune's own records go to ``OUT/tune/``.

The results: the combinations ranked by a metric's mean (or IQM, median) over the seeds, printed
and written to ``OUT/sweep.json`` and ``OUT/sweep.csv``; the best combination's settings as
``OUT/best.yaml`` (``advdl run ALGO --config OUT/best.yaml`` re-runs it); the best combinations'
curves in ``OUT/sweep.png``. The same command again continues: finished trials are kept,
interrupted ones resume from their checkpoint.
"""

import itertools
import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from advdl.api.errors import AdvdlError, ConfigError, UnknownNameError, did_you_mean
from advdl.experiments.results import default_metric, plain, rank, show, trial_metrics, write_results
from advdl.experiments.seeds import SETTINGS_FILE, parse_seeds, seed_command, write_settings
from advdl.runs.start import runner_for
from advdl.settings.files import load_file
from advdl.settings.resolve import resolve, run_config_class, run_keys, split_settings
from advdl.settings.values import coerce, fields_of, parse_assignments

EXTRA = "distributed"
MIN_RAY = (2, 40)
PLAN_FILE = "sweep.yaml"  # what a second run into the same --out must match

# Linux: the trial's `advdl run` must stop the way Ctrl-C stops it (checkpoint, exit) when Tune stops
# the trial, but a stopped Ray worker SIGKILLs its children (and its process group). So the worker
# starts this wrapper in a session of its own; the wrapper forks `advdl run`, which gets SIGTERM
# when the wrapper dies (PR_SET_PDEATHSIG), as the wrapper does when the worker dies. `advdl run`
# holds OUT/.../seed-K.lock while it lives: a re-run of the trial waits for its checkpoint.
_CHILD = """\
import ctypes, fcntl, os, signal, sys
def die_with_parent(parent):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent:
        os._exit(130)
die_with_parent(int(sys.argv[1]))
lock = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT)
fcntl.flock(lock, fcntl.LOCK_EX)
wrapper = os.getpid()
child = os.fork()
if child == 0:
    die_with_parent(wrapper)
    os.set_inheritable(lock, True)
    os.execv(sys.argv[3], sys.argv[3:])
os.close(lock)
code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass
class Plan:
    """A validated sweep: the combinations (each with its resolved settings), the seeds, the ranking."""

    spec: object
    target: str
    grid: dict  # key -> [values], in --grid order
    combinations: list  # {"index", "folder", "label", "values", "run_config", "algo_config", "preset"}
    seeds: list
    out: Path
    metric: str | None
    mode: str | None
    statistic: str

    @property
    def trials(self):
        return len(self.combinations) * len(self.seeds)

    def index_of(self, config):
        """The combination of a Tune trial's config."""
        if not hasattr(self, "_indices"):
            self._indices = {_key(c["values"].values()): c["index"] for c in self.combinations}
        return self._indices[_key([config[k] for k in self.grid])]


def _key(values):
    return json.dumps([list(v) if isinstance(v, tuple) else v for v in values])


def split_values(text):
    """'0.1,0.5' -> ['0.1', '0.5']; commas inside brackets stay: '[64,64],[128]' -> ['[64,64]', '[128]']."""
    values, depth, current = [], 0, ""
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    return [v for v in values + [current.strip()] if v]


def parse_grid(spec, items):
    """--grid KEY=V1,V2 options -> {key: [coerced values]}; unknown keys and bad values are errors."""
    types = {f.name: tp for f, tp in fields_of(run_config_class(spec))} | {f.name: tp for f, tp in fields_of(spec.config)}
    grid = {}
    for item in items:
        [(key, text)] = parse_assignments([item], "--grid").items()
        if key not in types:
            raise UnknownNameError(f"--grid: unknown setting '{key}' for {spec.name}.{did_you_mean(key, types)} "
                                   f"`advdl info {spec.name}` lists them.")
        if key in grid:
            raise ConfigError(f"--grid {key} is given twice; give all its values in one: --grid {key}=V1,V2")
        values = []
        for value in split_values(text):
            try:
                value = coerce(key, value, types[key])
            except ConfigError as exc:
                raise ConfigError(f"--grid {exc}") from None
            if value in values:
                raise ConfigError(f"--grid {key}: {show(value)} is given twice")
            values.append(value)
        if not values:
            raise ConfigError(f"--grid {key}: no values (expected --grid {key}=V1,V2)")
        grid[key] = values
    return grid


def plan(spec, registry, *, grid=(), seeds="0", env=None, data=None, env_kwargs=(), preset=None, config_file=None,
         assignments=(), steps=None, epochs=None, metric=None, mode=None, statistic="mean", out=None):
    """Check every combination's settings (as ``advdl run`` resolves them) before anything starts."""
    target_key = spec.family_spec.target
    given = {"env": env, "data": data, "steps": steps, "epochs": epochs, "env_kwargs": env_kwargs or None}
    if wrong := [name for name, value in given.items() if value is not None and name not in run_keys(spec)]:
        flag = "--" + wrong[0].replace("_", "-").replace("env-kwargs", "env-kwarg")
        raise ConfigError(f"{spec.name} trains on --{target_key}: {flag} is not one of its run settings "
                          f"(`advdl info {spec.name}` lists them)")
    fixed = parse_assignments(assignments)
    fixed |= {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}
    if env_kwargs:
        fixed["env_kwargs"] = list(env_kwargs)
    swept = parse_grid(spec, grid)
    for key in set(fixed) | set(swept):
        if key == "seed":
            raise ConfigError("a sweep's seeds are given with --seeds (e.g. --seeds 0-4), not as a setting")
        if key == target_key:
            raise ConfigError(f"a sweep trains on one {target_key}: give it with --{target_key} (one sweep per "
                              f"{target_key})")
    if both := sorted(set(fixed) & set(swept)):
        raise ConfigError(f"{both[0]} is both fixed (--set) and swept (--grid)")
    file_data = load_file(config_file) if config_file else None
    combinations = []
    products = list(itertools.product(*swept.values()))
    width = max(2, len(str(len(products) - 1)))
    for index, chosen in enumerate(products):
        values = dict(zip(swept, chosen))
        label = " ".join(f"{k}={show(v)}" for k, v in values.items()) or "(no grid)"
        run_flags, hyper_flags = split_settings(spec, fixed | values)
        try:
            run_config, algo_config, used = resolve(spec, env=env, data=data, preset=preset, file_data=file_data,
                                                    run_flags=run_flags, hyper_flags=hyper_flags)
        except ConfigError as exc:
            raise type(exc)(f"{label}: {exc}" if values else str(exc)) from None
        name = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", "_".join(f"{k}={show(v)}" for k, v in values.items()))[:80]
        combinations.append({"index": index, "folder": f"trials/{index:0{width}d}" + (f"-{name}" if name else ""),
                             "label": label, "values": values, "run_config": run_config,
                             "algo_config": algo_config, "preset": used})
    target = getattr(combinations[0]["run_config"], target_key)
    runner = runner_for(spec, registry)
    runner.check(combinations[0]["run_config"])
    names = runner.metric_names
    if metric is not None and names is not None and metric not in names:
        raise UnknownNameError(f"unknown --metric '{metric}'.{did_you_mean(metric, names)} "
                               f"{spec.family_spec.name} sweeps rank by: {', '.join(names)}.")
    metric = metric or runner.default_metric
    if out is None:
        out = Path("runs") / f"sweep-{spec.name}-{re.sub(r'[^A-Za-z0-9.-]+', '_', target)}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Plan(spec, target, swept, combinations, parse_seeds(seeds), Path(out), metric, mode, statistic)


def import_ray():
    """(ray, ray.tune), or the one-line error naming the extra."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports (and no internet needed)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune tables on the console
    # Ctrl-C: not Tune's graceful stop (it lets running trials go on for up to 10 s) but a KeyboardInterrupt;
    # ray.shutdown() then ends the workers, and each trial's run writes a checkpoint and exits (see _CHILD)
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    try:
        import ray
        from ray import tune
    except ImportError:
        raise AdvdlError(f'advdl sweep needs Ray Tune: pip install "advdl[{EXTRA}]"') from None
    version = tuple(int(p) for p in re.findall(r"\d+", ray.__version__)[:2])
    if version < MIN_RAY:
        raise AdvdlError(f"advdl sweep needs Ray {'.'.join(map(str, MIN_RAY))} or later, found {ray.__version__}: "
                         f'pip install -U "advdl[{EXTRA}]"')
    return ray, tune


def write_plan(plan):
    """OUT/sweep.yaml and each combination's seeds.yaml; an --out holding other settings is an error."""
    import yaml

    from advdl.runs.start import config_data

    out = plan.out
    if (out / "config.yaml").is_file() or (out / SETTINGS_FILE).is_file():
        raise ConfigError(f"{out} holds a run, not a sweep; choose another --out")
    combos = []
    for c in plan.combinations:
        settings = config_data(plan.spec, c["run_config"], c["algo_config"], c["preset"])
        settings.pop("seed")
        combos.append({"folder": c["folder"], "values": {k: plain(v) for k, v in c["values"].items()},
                       "settings": settings})
    text = yaml.safe_dump({"algorithm": plan.spec.name, "target": plan.target, "combinations": combos}, sort_keys=False)
    path = out / PLAN_FILE
    if path.is_file() and path.read_text() != text:
        raise ConfigError(f"{out} holds a sweep with other settings ({path}); choose another --out (the same "
                          f"command continues it; other --seeds, --metric or --mode are fine)")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    for c in plan.combinations:
        write_settings(out / c["folder"], plan.spec, c["run_config"], c["algo_config"], c["preset"])


@contextmanager
def locked(out):
    """One sweep at a time in an --out folder."""
    try:
        import fcntl
    except ImportError:  # not on POSIX
        yield
        return
    with open(out / ".sweep.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise AdvdlError(f"{out} is in use by another advdl sweep") from None
        yield


# -- the trial (runs in a Ray worker, in a thread: hence the subprocess) ---------------------------------
def run_trial(config, plan):
    """One (combination, seed): ``advdl run`` into OUT/trials/COMBINATION/seed-K; reports its summary."""
    from ray import tune

    folder = Path(plan["out"]) / plan["folders"][_key([config[k] for k in plan["keys"]])]
    seed = config["seed"]
    log = folder / f"seed-{seed}.log"
    command = seed_command(plan["algorithm"], folder, seed)
    started = time.time()
    code = 0 if command is None else run_logged(command, log, folder / f"seed-{seed}.lock", plan["cwd"],
                                                plan["cpus_per_trial"])
    summary_path = folder / f"seed-{seed}" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    if summary:
        (folder / f"seed-{seed}.lock").unlink(missing_ok=True)  # finished: nothing will wait for it
    status = ("kept" if command is None else "finished") if summary else "interrupted" if code == 130 else "failed"
    metrics = trial_metrics(summary) if summary else {}
    tune.report({"status": status, "exit_code": code, "log": str(log), "seconds": round(time.time() - started, 1),
                 "error": last_line(log) if status == "failed" else "",
                 "default_metric": default_metric(metrics) if metrics else "", **metrics})


def last_line(path):
    """The last line of a failed run's output: its error."""
    try:
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip().removeprefix("Error: ")[:300] if lines else ""


def run_logged(command, log_path, lock_path, cwd, cpus):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, int(cpus))))  # TensorFlow's threads: the trial's CPUs
    linux = sys.platform.startswith("linux")
    if linux:
        command = [sys.executable, "-c", _CHILD, str(os.getpid()), str(lock_path), *command]
    cwd = cwd if cwd and os.path.isdir(cwd) else None  # the driver's folder, where relative paths were meant
    with open(log_path, "a") as log:
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                              start_new_session=linux).returncode


# -- the sweep -----------------------------------------------------------------------------------------
def run(plan, *, address=None, max_concurrent=None, cpus_per_trial=1.0, report=print):
    """Every trial on Ray Tune; returns the ranked result (also written to OUT)."""
    pending = [(c, s) for c in plan.combinations for s in plan.seeds
               if not (plan.out / c["folder"] / f"seed-{s}" / "summary.json").is_file()]
    ray, tune = import_ray() if pending else (None, None)  # all finished: rank again without Ray
    write_plan(plan)
    out = plan.out.resolve()
    started, outcomes = time.time(), {}
    with locked(out):
        if pending:
            _start_ray(ray, address)
            try:
                _fit(ray, tune, plan, out, outcomes, address, max_concurrent, cpus_per_trial, report)
            except KeyboardInterrupt:
                report("Stopping: the running trials write a checkpoint...")
            finally:
                ray.shutdown()
        else:
            report(f"advdl: sweep of {plan.spec.name} on {plan.target}: all {plan.trials} trials finished before: "
                   f"kept -> {plan.out}")
    result = rank(plan, outcomes)
    result["wall_seconds"] = round(time.time() - started, 1)
    write_results(plan, result)
    return result


def _start_ray(ray, address):
    import logging

    kwargs = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        passed = {k: v for k, v in os.environ.items() if k.startswith("ADVDL_") or k == "TF_CPP_MIN_LOG_LEVEL"}
        kwargs["runtime_env"] = {"env_vars": passed}
    else:
        address, kwargs["include_dashboard"] = "local", False
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = "" if address == "local" else (" (is the cluster up? If it uses token authentication, set "
                                              "RAY_AUTH_MODE=token here, with its token in ~/.ray/auth_token or "
                                              "RAY_AUTH_TOKEN)")
        raise AdvdlError(f"cannot start or reach Ray at {address}: {exc}{hint}") from None
    logging.getLogger("ray").setLevel(logging.ERROR)
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # failed trials: our own line names their log


def _fit(ray, tune, plan, out, outcomes, address, max_concurrent, cpus_per_trial, report):
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus_per_trial > cpus:
        raise ConfigError(f"--cpus-per-trial {cpus_per_trial:g} exceeds the {cpus:g} CPUs Ray has")
    at_once = int(min(max_concurrent or plan.trials, cpus // cpus_per_trial, plan.trials))
    where = f"the Ray cluster at {address}" if address else "an embedded local Ray"
    report(f"advdl: sweep of {plan.spec.name} on {plan.target}: {len(plan.combinations)} combinations x "
           f"{len(plan.seeds)} seeds = {plan.trials} trials on {where} ({cpus:g} CPUs, {at_once} at a time) "
           f"-> {plan.out}")
    names = {c["index"]: Path(c["folder"]).name for c in plan.combinations}

    def trial_folder(trial):  # OUT/tune/TIME/NN-KEY=VALUE...-seed-K: Tune's records of the trial
        return f"{names[plan.index_of(trial.config)]}-seed-{trial.config['seed']}"[:120]

    class Progress(tune.Callback):
        """One line per finished trial (Tune's own console output is off)."""

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._record(trial, dict(trial.last_result or {}))

        def on_trial_error(self, iteration, trials, trial, **info):
            self._record(trial, {"status": "failed", "log": str(getattr(trial, "error_file", "") or out / "tune")})

        def _record(self, trial, result):
            index, seed = plan.index_of(trial.config), trial.config["seed"]
            status = result.get("status", "interrupted")
            outcomes[index, seed] = {k: result.get(k) for k in ("status", "exit_code", "log", "seconds", "error")}
            label = plan.combinations[index]["label"]
            if status == "kept":
                said = "kept (finished before)"
            elif status == "finished":
                name = plan.metric or result.get("default_metric")
                value = result.get(name) if name else None
                said = f"finished in {result.get('seconds', 0):.1f} s" + (
                    f", {name} {value:.4g}" if isinstance(value, (int, float)) else "")
            elif status == "interrupted":
                said = "interrupted (its checkpoint is kept)"
            else:
                said = (f"failed (exit {result.get('exit_code')})" + (f": {result['error']}" if result.get("error") else "")
                        + f"; see {result.get('log')}")
            report(f"[{len(outcomes)}/{plan.trials}] {label}, seed {seed}: {said}")

    trial_plan = {"out": str(out), "algorithm": plan.spec.name, "keys": list(plan.grid), "cwd": os.getcwd(),
                  "cpus_per_trial": cpus_per_trial,
                  "folders": {_key(c["values"].values()): c["folder"] for c in plan.combinations}}
    trainable = tune.with_resources(tune.with_parameters(run_trial, plan=trial_plan), {"cpu": cpus_per_trial})
    space = {key: tune.grid_search(values) for key, values in plan.grid.items()} | {"seed": tune.grid_search(plan.seeds)}
    tuner = tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True,
                                    trial_dirname_creator=trial_folder),
        run_config=tune.RunConfig(name=time.strftime("%Y%m%d-%H%M%S"), storage_path=str(out / "tune"), verbose=0,
                                  callbacks=[Progress()], failure_config=tune.FailureConfig(max_failures=2)))
    tuner.fit()
