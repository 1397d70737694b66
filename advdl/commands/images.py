"""advdl sample, translate and score: a finished generative run's model at work."""

import json

import click

from advdl.api.errors import ConfigError
from advdl.commands.common import SEED, registry


@click.command("sample")
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
    from advdl.datasets.images import check_out, check_sample_count, generate_samples, generate_sweep, write_samples
    from advdl.runs.start import load_generative

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



@click.command("translate")
@click.argument("run_dir", type=click.Path())
@click.option("--direction", default="a2b", show_default=True,
              help="a2b: domain A's held-out images (the run's --data) into domain B; b2a: B's into A.")
@click.option("--n", "n", default=20, show_default=True, type=int, help="Held-out images to translate (the first N).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="FILE.png: rows of sources over rows of their translations; FILE.npz: arrays sources, images "
                   "(translations; N, H, W, C float32 in [0, 1]) and labels (the sources').")
def translate_command(run_dir, direction, n, out):
    """Translate held-out images with a finished two-domain run (CycleGAN)."""
    from advdl.datasets.images import check_out, translate_images
    from advdl.runs.start import load_generative

    check_out(out)
    spec, _, model, dataset = load_generative(run_dir, registry())
    path, count = translate_images(spec, model, dataset, direction, n, out)
    click.echo(f"{count} images translated {direction}, written to {path}")


@click.command("score")
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

