"""What the command modules share: the registry the command line was built with, tables, values."""

import click

from advdl.settings.values import MAX_SEED

SEED = click.IntRange(0, MAX_SEED)  # what keras.utils.set_random_seed takes, with room for the offsets added to seeds


def registry():
    """The registry ``make_cli(registry)`` was given, else the installed plugins' (built once)."""
    ctx = click.get_current_context(silent=True)
    given = ctx.find_root().obj if ctx is not None else None
    if given is not None:
        return given
    from advdl.loading.manager import get_registry

    return get_registry()


def _table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _show(value):
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    return "none" if value is None else str(value)

