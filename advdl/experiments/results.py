"""A sweep's results (see advdl.experiments.sweep): every metric's statistics over each combination's seeds, the
combinations ranked by one of them, and what is written: ``sweep.json``, ``sweep.csv``,
``best.yaml`` (the best combination's settings as ``advdl run --config`` reads them), ``sweep.png``
(the best combinations' curves), each combination's ``aggregate.json``; the printed table.
"""

import json

from advdl.api.errors import AdvdlError, RunInterrupted, UnknownNameError, did_you_mean
from advdl.experiments.seeds import SETTINGS_FILE
from advdl.runs.family import trial_metrics  # noqa: F401 - the sweep ranks by it

# --mode's default: max for these (returns, accuracies, ELBOs, solved, throughput); min for the rest
HIGHER_IS_BETTER = ("eval_mean", "accuracy", "elbo", "solved", "per_second")
PLOTTED = 4  # sweep.png: the curves of the best combinations


def show(value):
    if isinstance(value, (list, tuple)):
        return ",".join(map(show, value))
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return str(value)


def plain(value):
    return list(value) if isinstance(value, tuple) else value


def rank(plan, outcomes):
    """Per combination: every metric's statistics over the seeds that finished; ranked by plan.metric."""
    from advdl.api.stats import describe
    from advdl.experiments.seeds import aggregate

    rows, summaries = [], {}
    for c in plan.combinations:
        folder = plan.out / c["folder"]
        finished = {}
        for seed in plan.seeds:
            path = folder / f"seed-{seed}" / "summary.json"
            if path.is_file():
                finished[seed] = json.loads(path.read_text())
        summaries[c["index"]] = finished
        per_seed = [trial_metrics(finished[s]) for s in sorted(finished)]
        names = list(dict.fromkeys(n for m in per_seed for n in m))
        metrics = {n: describe([m[n] for m in per_seed if n in m]) for n in names}
        if finished:
            (folder / "aggregate.json").write_text(json.dumps(aggregate(plan.spec, finished), indent=2) + "\n")
        failed = [{"seed": s, "log": outcome.get("log"), "error": outcome.get("error") or ""} for s in plan.seeds
                  if s not in finished and (outcome := outcomes.get((c["index"], s)) or {}).get("status") == "failed"]
        rows.append({"combination": {k: plain(v) for k, v in c["values"].items()}, "label": c["label"],
                     "folder": c["folder"], "seeds_finished": sorted(finished), "failed": failed, "metrics": metrics})
    finished_rows = [r for r in rows if r["metrics"]]
    unfinished = [{"combination": r["label"], "seed": s} for r in rows for s in plan.seeds
                  if s not in r["seeds_finished"] and not any(f["seed"] == s for f in r["failed"])]
    if not finished_rows:
        if unfinished:
            raise RunInterrupted(interrupted(len(unfinished), plan.trials))
        first = next(({"label": r["label"], **f} for r in rows for f in r["failed"]), None)
        raise AdvdlError("every trial failed" + (f"; the first, {first['label']} seed {first['seed']}: "
                                                 f"{first['error'] or 'see its log'} (log: {first['log']})" if first else ""))
    metric = plan.metric or default_metric(finished_rows[0]["metrics"])
    available = sorted({n for r in finished_rows for n in r["metrics"]})
    if metric not in available:
        raise UnknownNameError(f"unknown --metric '{metric}'.{did_you_mean(metric, available)} The trials report: "
                               f"{', '.join(available)} (they are kept: run again with another --metric)")
    if plan.statistic == "median":  # describe() has the intervals of the mean and the IQM
        import numpy as np

        from advdl.api.stats import bootstrap_interval

        for row in finished_rows:
            if metric in row["metrics"]:
                row["metrics"][metric]["median_ci95"] = bootstrap_interval(row["metrics"][metric]["values"], np.median)
    mode = plan.mode or ("max" if any(word in metric for word in HIGHER_IS_BETTER) else "min")
    sign = -1 if mode == "max" else 1
    ranked = sorted(finished_rows, key=lambda r: (metric not in r["metrics"],
                                                  sign * r["metrics"].get(metric, {}).get(plan.statistic, 0)))
    for position, row in enumerate(ranked, 1):
        row["rank"] = position
    return {"algorithm": plan.spec.name, plan.spec.family_spec.target: plan.target,
            "metric": metric, "mode": mode, "statistic": plan.statistic, "seeds": plan.seeds,
            "grid": {k: [plain(v) for v in vs] for k, vs in plan.grid.items()},
            "ranking": ranked + [r for r in rows if not r["metrics"]], "unfinished": unfinished,
            "best": ranked[0]["folder"], "_summaries": summaries}


def interrupted(unfinished, trials):
    return (f"Sweep interrupted: {unfinished} of {trials} trials unfinished (stopped ones wrote a checkpoint). "
            f"Run the same command again to continue; finished trials are kept.")


def default_metric(metrics):
    """RL: eval_mean; datasets: test_accuracy when the model has it, else its first test metric."""
    names = [n for n in metrics if n not in ("wall_seconds", "images_per_second")]
    for name in ("eval_mean", "test_accuracy"):
        if name in names:
            return name
    return (names or ["wall_seconds"])[0]


def write_results(plan, result):
    """OUT/sweep.json, OUT/sweep.csv, OUT/best.yaml and (with evaluation curves) OUT/sweep.png."""
    import csv

    summaries = result.pop("_summaries")
    out, metric, statistic = plan.out, result["metric"], result["statistic"]
    (out / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    others = sorted({n for r in result["ranking"] for n in r["metrics"]} - {metric})
    ci_name = f"{statistic}_ci95"
    with open(out / "sweep.csv", "w", newline="") as handle:  # the ranking metric in full, the others' means
        writer = csv.writer(handle)
        writer.writerow(["rank", *plan.grid, *[f"{metric}_{s}" for s in ("mean", "iqm", "median")],
                         f"{metric}_{ci_name}_low", f"{metric}_{ci_name}_high", *[f"{n}_mean" for n in others],
                         "seeds_finished", "seeds_failed", "folder"])
        for row in result["ranking"]:
            m, ranked = row["metrics"], row["metrics"].get(metric, {})
            writer.writerow([row.get("rank", ""), *[show(v) for v in row["combination"].values()],
                             *[ranked.get(s, "") for s in ("mean", "iqm", "median")], *ranked.get(ci_name, ("", "")),
                             *[m[n]["mean"] if n in m else "" for n in others],
                             len(row["seeds_finished"]), len(row["failed"]), row["folder"]])
    best = result["ranking"][0]
    text = (out / best["folder"] / SETTINGS_FILE).read_text()
    (out / "best.yaml").write_text(
        f"# advdl sweep: the best of {len(plan.combinations)} combinations by the {statistic} of {metric} ({result['mode']}) "
        f"over seeds {', '.join(map(str, best['seeds_finished']))}: {best['label']}\n"
        f"# re-run: advdl run {plan.spec.name} --config best.yaml [--seed S | --seeds 0-4]\n" + text)
    _plot(plan, result, summaries)


def _plot(plan, result, summaries):
    from advdl.experiments.seeds import curves

    by_folder = {c["folder"]: c["index"] for c in plan.combinations}
    groups = {}
    for row in result["ranking"][:PLOTTED]:
        runs = summaries[by_folder[row["folder"]]]
        lines = curves(plan.spec, runs) if runs else []
        if any(len(x) > 1 for x, _ in lines):
            groups[row["label"]] = lines
    if not groups:
        return
    from advdl.api.plots import seed_curves
    from advdl.runs.start import runner_for

    first = next(summary for runs in summaries.values() for summary in runs.values())
    seed_curves(plan.out / "sweep.png", groups, f"{plan.spec.name} on {plan.target}: the {len(groups)} best combinations",
                *runner_for(plan.spec).curve_axes(first))


def table(result):
    """The ranking as text lines: one row per combination, its grid values and the metric over the seeds."""
    metric, statistic = result["metric"], result["statistic"]
    keys = list(result["grid"])
    ci_name = f"{statistic}_ci95"
    rows = []
    for row in result["ranking"]:
        m = row["metrics"].get(metric)
        seeds = f"{len(row['seeds_finished'])}/{len(result['seeds'])}"
        if m is None:
            rows.append([row.get("rank", "-"), *[show(v) for v in row["combination"].values()], "failed", "", "", seeds])
            continue
        low, high = m[ci_name]
        rows.append([row["rank"], *[show(v) for v in row["combination"].values()], f"{m[statistic]:.4g}",
                     f"[{low:.4g}, {high:.4g}]", ", ".join(f"{v:.4g}" for v in m["values"]), seeds])
    headers = ["RANK", *[k.upper() for k in keys], f"{metric.upper()} ({statistic.upper()})", "95% CI", "PER SEED",
               "SEEDS"]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = [f"Ranked by the {statistic} of {metric} over the seeds ({result['mode']}imum first):"]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [headers, *rows]]
    return lines
