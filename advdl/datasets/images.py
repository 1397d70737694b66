"""What ``advdl sample``, ``advdl translate`` and ``advdl score`` do with a finished generative run."""

from pathlib import Path

from advdl.api.errors import ConfigError
from advdl.runs import checkpoint

# a .png grid of more images is a picture no viewer opens (10,000 MNIST digits: 2,800 x 28,000 pixels)
MAX_GRID_IMAGES = 10_000
# per generated image: the images, their concatenation, the file's copy, and the noise, labels and features
SAMPLE_COPIES, SAMPLE_EXTRA_BYTES = 4, 4096


def check_sample_count(n, dataset, out=None, what="--n"):
    """Before generating: ``n`` at least 1, its images fit in memory, and a .png ``out`` is a grid of at
    most MAX_GRID_IMAGES (more go to a .npz)."""
    from advdl.api.memory import array_bytes, check_fits

    if n < 1:
        raise ConfigError(f"{what} must be at least 1, got {n}")
    if out is not None and Path(out).suffix == ".png" and n > MAX_GRID_IMAGES:
        raise ConfigError(f"{what} {n:,}: a .png grid holds at most {MAX_GRID_IMAGES:,} images; write a .npz "
                          f"(--out FILE.npz) for more")
    per_image = SAMPLE_COPIES * array_bytes(dataset.image_shape, "float32") + SAMPLE_EXTRA_BYTES
    check_fits(n * per_image, f"{what} {n:,} images", "; ask for fewer")


def check_out(out):
    """--out of sample and translate: a .png (a grid) or a .npz (arrays), checked before generating."""
    if Path(out).suffix not in (".png", ".npz"):
        raise ConfigError(f"--out must end in .png (a grid) or .npz (arrays), got {Path(out).name}")


def _write_output(out, write):
    """``write(path)`` after creating ``out``'s folder; an OSError (a read-only or missing place, a full
    disk) becomes one line."""
    from advdl.api.errors import AdvdlError

    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write(out)
    except OSError as exc:
        raise AdvdlError(f"cannot write {out}: {exc.strerror or exc}{checkpoint.free_space_note(out.parent)}") from None
    return out


def _write_npz(path, **arrays):
    import io

    import numpy as np

    buffer = io.BytesIO()  # in memory, then replaced atomically: never half a file at ``path``
    np.savez(buffer, **arrays)
    checkpoint.write_atomic(path, buffer.getvalue())


def generate_samples(spec, model, dataset, n, label=None, seed=0):
    """(images, labels): labels are the asked ones for a conditional model (cycling 0..K-1 without
    ``label``), -1 for an unconditional one."""
    import numpy as np

    check_sample_count(n, dataset)
    if label is not None and not model.conditional:
        raise ConfigError(f"--label needs a conditional model; '{spec.name}' is unconditional")
    if label is not None and not 0 <= label < dataset.num_classes:
        raise ConfigError(f"--label must be in 0..{dataset.num_classes - 1}, got {label}")
    if model.conditional:
        labels = np.full(n, label) if label is not None else np.arange(n) % dataset.num_classes
    else:
        labels = np.full(n, -1)
    return model.generate(n, labels if model.conditional else None, seed), labels.astype(np.int64)


def generate_sweep(spec, model, code, seed=0):
    """(images, labels of -1, columns) of a grid that varies one of the model's latent codes."""
    import numpy as np

    if not model.codes:
        raise ConfigError(f"--sweep needs a model with latent codes; '{spec.name}' has none")
    if code not in model.codes:
        raise ConfigError(f"unknown code '{code}' for '{spec.name}'; its codes: {', '.join(model.codes)}")
    images, columns = model.sweep(code, seed)
    return images, np.full(len(images), -1, np.int64), columns


def write_samples(images, labels, out, columns=10):
    """A grid (.png, ``columns`` wide) or the arrays ``images`` and ``labels`` (.npz)."""
    import numpy as np

    from advdl.api.plots import image_grid

    out = Path(out)
    check_out(out)
    if out.suffix == ".png":
        return _write_output(out, lambda path: image_grid(path, images, columns))
    return _write_output(out, lambda path: _write_npz(path, images=images.astype(np.float32), labels=labels))


def translate_images(spec, model, dataset, direction, n, out):
    """Translate the first ``n`` held-out images of a two-domain model's source domain into ``out``:
    a .png of source rows over translation rows (10 wide), or a .npz of sources, images, labels."""
    import numpy as np

    from advdl.api.plots import as_rgb, image_grid

    if not model.directions:
        raise ConfigError(f"translate needs a two-domain model (cyclegan); '{spec.name}' translates nothing")
    if direction not in model.directions:
        raise ConfigError(f"unknown direction '{direction}' for '{spec.name}'; its directions: "
                          f"{', '.join(model.directions)}")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    out = Path(out)
    check_out(out)
    sources, images, labels = model.translate(direction, n, dataset)  # at most the held-out images
    if out.suffix == ".npz":
        return _write_output(out, lambda path: _write_npz(path, sources=sources.astype(np.float32),
                                                           images=images.astype(np.float32), labels=labels)), len(images)
    if sources.shape[-1] != images.shape[-1]:  # grey beside colour
        sources, images = as_rgb(sources), as_rgb(images)
    columns, rows = min(10, len(images)), []
    for i in range(0, len(images), columns):
        for part in (sources[i:i + columns], images[i:i + columns]):
            rows.append(np.concatenate([part, np.ones((columns - len(part), *part.shape[1:]), np.float32)]))
    grid = np.concatenate(rows)
    return _write_output(out, lambda path: image_grid(path, grid, columns)), len(images)


