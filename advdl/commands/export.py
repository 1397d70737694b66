"""advdl export: a finished run's inference models as SavedModel, TFLite or ONNX, verified."""

import json

import click

from advdl.commands.common import registry

FORMATS = ("savedmodel", "tflite", "onnx")  # advdl.runs.export.FORMATS, without importing numpy for --help


@click.command("export")
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="onnx", show_default=True,
              help="savedmodel (TensorFlow), tflite (LiteRT) or onnx (needs the onnx extra).")
@click.option("--out", type=click.Path(),
              help="The file (a folder for savedmodel) of a one-part export, or the folder of a several-part one "
                   "(PART.onnx, ...) [default: RUN_DIR/export/].")
@click.option("--part", help="Export only this part (e.g. encoder or decoder) [default: every part].")
@click.option("--force", is_flag=True, help="Replace what --out names if it exists (once the new file is verified).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record per part instead of a line.")
def export_command(run_dir, fmt, out, part, force, as_json):
    """Export a finished run's inference model: an agent's deterministic policy (raw observation in, action
    out), a classifier's probabilities, a generator (noise and label in, image out), an autoencoder's
    encoder and decoder. Each file is run by its own runtime on real inputs and compared with the Keras
    model; beyond the tolerance the export fails and nothing is kept."""
    from advdl.runs.export import export_run

    records = export_run(run_dir, registry(), fmt, out=out, part=part, force=force,
                         report=(lambda line: None) if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(records))
