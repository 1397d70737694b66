"""advdl list and advdl info: what the plugins registered (no TensorFlow)."""

import json

import click

from advdl.commands.common import _indent, _plain, _show, _table, registry
from advdl.settings.resolve import run_config_class
from advdl.settings.values import describe_bounds, describe_type, fields_of


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



@click.command("list")
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



@click.command("info")
@click.argument("algorithm")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info_command(algorithm, as_json):
    """Show an algorithm's hyperparameters (default and help) and presets."""
    spec = registry().algorithm(algorithm)
    params, run = _settings(spec.config), _settings(run_config_class(spec))
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
    click.echo(_indent(_table([_row(p) for p in params],
                              ("NAME", "TYPE", "DEFAULT", "HELP"))))
    click.echo("\nRun settings")
    click.echo(_indent(_table([_row(p) for p in run],
                              ("NAME", "TYPE", "DEFAULT", "HELP"))))
    target = f"--{spec.family_spec.target}"
    click.echo(f"\nPresets (--preset NAME; a preset named after the {target} is applied automatically)")
    if not presets:
        click.echo("  none")
    for name, p in presets.items():
        changed = ", ".join(f"{k}={_show(v)}" for k, v in {**p.get("run", {}), **p.get("hyperparameters", {})}.items())
        env = f" [env {p['env']}]" if p.get("env") else f" [data {p['data']}]" if p.get("data") else ""
        best = " [keeps the best evaluated weights]" if p.get("run", {}).get("keep_best") else ""
        click.echo(f"  {name}{env}{best}: {p.get('description', '')}\n      {changed}")




def _settings(cls):
    """Each field of a config class: name, type, default, help, and its bounds in words ("" if none)."""
    return [{"name": f.name, "type": describe_type(tp), "default": _plain(f.default), "help": f.metadata.get("help", ""),
             "bounds": describe_bounds(cls, f.name, tp)} for f, tp in fields_of(cls)]


def _row(setting):
    bounds = f" ({setting['bounds']})" if setting["bounds"] else ""
    return setting["name"], setting["type"], _show(setting["default"]), setting["help"] + bounds
