"""The ``advdl`` command line, built by ``make_cli``: one module per verb in this folder, and the verbs
plugins add (``advdl_register_commands``). Listing and help never import TensorFlow."""

import os
import sys
import traceback

import click

from advdl import __version__
from advdl.api.errors import AdvdlError, RunInterrupted


def main(argv=None, registry=None):
    """Entry point: user mistakes become one ``Error: ...`` line and a non-zero exit code. ``registry``:
    the one the commands use (default: the installed plugins')."""
    try:
        make_cli().main(args=argv, prog_name="advdl", standalone_mode=False, obj=registry)
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


class AdvdlGroup(click.Group):
    """advdl's own verbs, then those plugins add through ``advdl_register_commands`` (looked up only
    for a name advdl does not know, and for the help)."""

    def _plugin_commands(self, ctx):
        from advdl.commands.common import registry

        reg = registry()
        if getattr(reg, "plugin_commands", None) is None:
            reg.plugin_commands = {}
            collect = click.Group()
            for impl in reg.plugin_manager.hook.advdl_register_commands.get_hookimpls():
                before = set(collect.commands)
                try:
                    impl.function(cli=collect)
                except Exception as exc:  # a broken plugin's verb: listed, the rest keeps working
                    reg.add_error(impl.plugin_name, "", f"advdl_register_commands failed: {type(exc).__name__}: {exc}")
                    continue
                for name in set(collect.commands) - before:
                    if name in self.commands:
                        reg.add_error(impl.plugin_name, "", f"command '{name}' is advdl's own; the plugin's is ignored")
                    else:
                        reg.plugin_commands[name] = collect.commands[name]
        return reg.plugin_commands

    def list_commands(self, ctx):
        return sorted(self.commands) + sorted(set(self._plugin_commands(ctx)) - set(self.commands))

    def get_command(self, ctx, name):
        return self.commands.get(name) or self._plugin_commands(ctx).get(name)


def make_cli():
    """A fresh ``advdl`` click group with every verb; ``main(argv, registry)`` runs it on a given registry."""
    from advdl.commands import compare, evaluate, export, images, listing, run, sweep, system

    group = AdvdlGroup("advdl", help=HELP, context_settings={"help_option_names": ["-h", "--help"]},
                       no_args_is_help=True)
    click.version_option(__version__, prog_name="advdl")(group)
    for command in (listing.list_command, listing.info_command, run.run_group, evaluate.eval_command,
                    export.export_command, images.sample_command, images.translate_command, images.score_command,
                    compare.compare_command, sweep.sweep_command, system.system_command):
        group.add_command(command)
    return group


HELP = """advdl: the algorithms of "Advanced Deep Learning with Keras", fast and reproducible.

    \b
    Plugin switches (environment variables, comma separated):
      ADVDL_PLUGINS=dist,...        load only these distributions' plugins
      ADVDL_BLOCK_PLUGINS=name,...  never load these plugins (entry-point names)
      ADVDL_STRICT_PLUGINS=1        fail on the first broken plugin
      ADVDL_TRACE_HOOKS=1           print every hook call
      ADVDL_PLUGIN_TIMEOUT=SECONDS  skip a plugin slower to import (default 10)
      ADVDL_DEBUG=1                 show the traceback behind an Error: line
"""


