"""``advdl compare``: advdl's agent and its Stable-Baselines3 counterpart on the same environment,
seeds, budget and settings, evaluated by the same protocol, side by side.

Each side trains seed by seed in its own processes (advdl: ``advdl run``; SB3: advdl.experiments.baselines),
into OUT/advdl/seed-K and OUT/sb3/seed-K. The report: final mean and IQM of the final evaluation's
returns with 95% bootstrap intervals, the first env step at the solved threshold, wall seconds,
env steps/s and the ratios; OUT/compare.json and OUT/compare.png (both sides' curves with bands).
"""

import json
import sys
from pathlib import Path

from advdl.api.errors import AdvdlError, ConfigError

EXTRA = "baselines"


def check_available():
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise AdvdlError(f"advdl compare needs Stable-Baselines3: pip install 'advdl[{EXTRA}]' (from a checkout: "
                         f"pip install -e '.[{EXTRA}]'; it pins torch==2.13.0, CPU)") from None


def counterpart(spec):
    """(SB3 class, how it differs or None) of the Stable-Baselines3 counterpart ``spec`` declares
    (``AlgorithmSpec.baseline``)."""
    if spec.baseline is None:
        raise ConfigError(f"'{spec.name}' declares no Stable-Baselines3 counterpart to compare with "
                          f"(AlgorithmSpec.baseline; advdl's dqn, ddqn, a2c, reinforce, reinforce-baseline and "
                          f"actor-critic do)")
    return spec.baseline.sb3_class, spec.baseline.note


def sb3_settings(spec, run_config, algo_config, threshold):
    """SB3's class and keyword arguments mirroring the advdl run's settings."""
    from advdl.loading.registry import plugin_call
    from advdl.settings.values import env_kwargs_values

    sb3_class, _ = counterpart(spec)
    settings = {"sb3_class": sb3_class, "env": run_config.env, "env_kwargs": env_kwargs_values(run_config.env_kwargs),
                "steps": run_config.steps, "eval_interval": run_config.eval_interval,
                "eval_episodes": run_config.eval_episodes, "final_eval_episodes": run_config.final_eval_episodes,
                "keep_best": run_config.keep_best, "reward_threshold": threshold, "n_envs": 1}
    mapping = plugin_call(spec, f"baseline {spec.baseline.settings}", spec.baseline.load_settings)
    return settings | plugin_call(spec, f"{spec.baseline.settings}(...)", mapping, algo_config)


def run_sb3(settings, out, seeds, workers, report):
    from advdl.experiments.seeds import run_processes

    out.mkdir(parents=True, exist_ok=True)
    path = out / "settings.json"
    path.write_text(json.dumps(settings, indent=2) + "\n")
    commands = {seed: None if (out / f"seed-{seed}" / "summary.json").is_file() else
                [sys.executable, "-m", "advdl.experiments.baselines", str(path), str(seed), str(out / f"seed-{seed}")]
                for seed in seeds}
    return run_processes(out, commands, workers, report, "SB3 seed")


def side(summaries, threshold):
    """One row of the report from a side's per-seed summaries."""
    import numpy as np

    from advdl.api.stats import bootstrap_interval, describe, iqm

    runs = [summaries[s] for s in sorted(summaries) if summaries[s] is not None]
    returns = np.concatenate([r["eval"]["returns"] for r in runs])
    firsts = [r["first_eval_at_threshold"] and r["first_eval_at_threshold"]["env_steps"] for r in runs]
    reached = [f for f in firsts if f is not None]
    return {"seeds": len(runs), "final_mean": describe([r["eval"]["mean"] for r in runs]),
            "returns_iqm": iqm(returns), "returns_iqm_ci95": bootstrap_interval(returns, iqm),
            "first_step_at_threshold": firsts, "median_first_step": float(np.median(reached)) if reached else None,
            "reached_threshold": len(reached), "solved_at_end": sum(threshold is not None and r["eval"]["mean"] >= threshold
                                                                    for r in runs),
            "wall_seconds": float(np.median([r["wall_seconds"] for r in runs])),
            "steps_per_second": float(np.median([r["steps_per_second"] for r in runs]))}


def compare(spec, run_config, algo_config, preset, out, seeds, workers=1, report=print):
    from advdl.api.plots import seed_curves
    from advdl.experiments.seeds import curves, run_seeds
    from advdl.loading.manager import get_registry
    from advdl.rl.environments import make_env, reward_threshold

    check_available()
    sb3_class, note = counterpart(spec)
    out = Path(out)
    probe = make_env(run_config.env, get_registry())
    threshold = reward_threshold(probe)
    probe.close()
    settings = sb3_settings(spec, run_config, algo_config, threshold)
    report(f"advdl {spec.name} against SB3 {sb3_class}" + (f" ({note})" if note else "") + " ...")
    ours = run_seeds(spec, run_config, algo_config, preset, out / "advdl", seeds, workers, report)
    theirs = run_sb3(settings, out / "sb3", seeds, workers, report)
    if not any(ours.values()) or not any(theirs.values()):
        raise AdvdlError(f"a side failed on every seed; see the seed-K.log files under {out}")
    rows = {f"advdl {spec.name}": side(ours, threshold), f"SB3 {sb3_class}": side(theirs, threshold)}
    a, b = rows.values()
    ratios = {"wall_seconds": a["wall_seconds"] / b["wall_seconds"],
              "steps_per_second": a["steps_per_second"] / b["steps_per_second"],
              "median_first_step": (a["median_first_step"] / b["median_first_step"]
                                    if a["median_first_step"] and b["median_first_step"] else None)}
    result = {"algorithm": spec.name, "sb3": sb3_class, "note": note, "env": run_config.env, "steps": run_config.steps,
              "seeds": seeds, "reward_threshold": threshold, "rows": rows, "ratios_advdl_over_sb3": ratios,
              "sb3_settings": settings}
    (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    seed_curves(out / "compare.png", {name: curves(spec, {s: r for s, r in runs.items() if r})
                                      for name, runs in zip(rows, (ours, theirs))},
                f"{run_config.env}: advdl {spec.name} vs SB3 {sb3_class}, seeds {','.join(map(str, seeds))}",
                "environment steps", "evaluation mean return", threshold)
    return result


def table(result):
    """The report as markdown lines."""
    def interval(low_high):
        return f"[{low_high[0]:.1f}, {low_high[1]:.1f}]"

    t = result["reward_threshold"]
    lines = [f"{result['env']}, {result['steps']:,} env steps, seeds {','.join(map(str, result['seeds']))}"
             + (f"; {result['note']}" if result["note"] else ""), "",
             f"| run | final mean [95% CI] | IQM of final returns [95% CI] | first step at {t:g} (median) | reached | "
             "wall s | env steps/s |" if t is not None else
             "| run | final mean [95% CI] | IQM of final returns [95% CI] | first step at threshold | reached | wall s | "
             "env steps/s |", "|---|---|---|---|---|---|---|"]
    for name, r in result["rows"].items():
        first = "-" if r["median_first_step"] is None else f"{r['median_first_step']:,.0f}"
        lines.append(f"| {name} | {r['final_mean']['mean']:.1f} {interval(r['final_mean']['mean_ci95'])} | "
                     f"{r['returns_iqm']:.1f} {interval(r['returns_iqm_ci95'])} | {first} | "
                     f"{r['reached_threshold']}/{r['seeds']} | {r['wall_seconds']:.1f} | {r['steps_per_second']:,.0f} |")
    x = result["ratios_advdl_over_sb3"]
    first = "-" if x["median_first_step"] is None else f"x{x['median_first_step']:.2f}"
    lines += ["", f"advdl / SB3: wall time x{x['wall_seconds']:.2f}, env steps/s x{x['steps_per_second']:.2f}, "
                  f"steps to the threshold {first}"]
    return lines
