"""Packaging: plugins/ and envs/ install as advdl_plugins / advdl_envs, every package is listed."""

import ast
import configparser
import re
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest
from conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("advdl", "plugins", "envs")
GENERIC_NAMES = ("plugins", "envs")


@pytest.fixture(scope="module")
def setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


def _lines(value):
    return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]


def _pairs(value):
    out = {}
    for line in _lines(value):
        key, _, target = line.partition("=")
        out[key.strip()] = target.strip()
    return out


@pytest.fixture(scope="module")
def package_dir(setup_cfg):
    return _pairs(setup_cfg["options"]["package_dir"])


@pytest.fixture(scope="module")
def listed_packages(setup_cfg):
    return set(_lines(setup_cfg["options"]["packages"]))


def installed_name(folder, package_dir):
    """plugins/dqn -> advdl_plugins.dqn, following setup.cfg's package_dir."""
    rel = folder.relative_to(ROOT).parts
    for name, source in package_dir.items():
        source_parts = Path(source).parts
        if rel[: len(source_parts)] == source_parts:
            return ".".join((name, *rel[len(source_parts):]))
    return ".".join(rel)


def source_packages():
    return sorted(p.parent for d in SOURCE_DIRS for p in (ROOT / d).rglob("__init__.py")
                  if "__pycache__" not in p.parts)


def test_package_dir_maps_plugins_and_envs(package_dir):
    assert package_dir.get("advdl_plugins") == "plugins"
    assert package_dir.get("advdl_envs") == "envs"
    assert not set(GENERIC_NAMES) & set(package_dir), "plugins/envs must not be installed under generic names"


def test_every_package_is_listed_in_setup_cfg(package_dir, listed_packages):
    expected = {installed_name(folder, package_dir) for folder in source_packages()}
    assert {"advdl", "advdl_plugins", "advdl_envs", "advdl_plugins.qlearning", "advdl_plugins.dqn"} <= expected
    missing = sorted(expected - listed_packages)
    assert not missing, f"packages missing from setup.cfg [options] packages: {missing}"


def test_every_listed_package_exists(package_dir, listed_packages):
    reverse = {name: source for name, source in package_dir.items()}
    for package in listed_packages:
        top, *rest = package.split(".")
        folder = ROOT / reverse.get(top, top) / Path(*rest) if rest else ROOT / reverse.get(top, top)
        assert (folder / "__init__.py").is_file(), f"{package} is listed but {folder}/__init__.py does not exist"


def test_generic_names_are_never_listed(listed_packages):
    bad = [p for p in listed_packages if p.split(".")[0] in GENERIC_NAMES]
    assert not bad, f"generic top-level package names would be installed: {bad}"


def python_sources():
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", python_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_imports_the_generic_names(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offenders = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            offenders += [a.name for a in node.names if a.name.split(".")[0] in GENERIC_NAMES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in GENERIC_NAMES:
                offenders.append(node.module)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.match(r"^(plugins|envs)(\.\w+)*:\w+$", node.value)):
            offenders.append(node.value)  # "module:Class" targets (factories, entry points) import too
    assert not offenders, f"{path.relative_to(ROOT)} refers to generic top-level names: {offenders}"


# every plugin package is registered through the project's own entry points, as a third party's would be
BUILTIN_ENTRY_POINTS = {p.parent.name: f"advdl_plugins.{p.parent.name}" for p in (ROOT / "plugins").glob("*/__init__.py")}
BUILTIN_ENTRY_POINTS["envs"] = "advdl_envs"


def test_setup_cfg_entry_points(setup_cfg):
    entry_points = _pairs(setup_cfg["options.entry_points"]["advdl"])
    assert entry_points == BUILTIN_ENTRY_POINTS
    scripts = _pairs(setup_cfg["options.entry_points"]["console_scripts"])
    assert scripts.get("advdl") == "advdl.commands.main:main"


def test_installed_metadata_matches_setup_cfg(setup_cfg):
    """The installed (editable) metadata is not stale: same advdl entry points as setup.cfg."""
    declared = _pairs(setup_cfg["options.entry_points"]["advdl"])
    installed = {ep.name: ep.value for ep in distribution("advdl").entry_points if ep.group == "advdl"}
    assert installed == declared, "reinstall (pip install -e .): installed entry points differ from setup.cfg"


IMPORT_PROBE = """
import importlib, sys
names = sys.argv[1:]
for name in names:
    module = importlib.import_module(name)
    print(name, module.__file__)
for generic in ("plugins", "envs"):
    try:
        importlib.import_module(generic)
    except ModuleNotFoundError:
        pass
    else:
        print("GENERIC-IMPORTABLE", generic)
print("heavy:", sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


def test_installed_packages_import_under_their_names(tmp_path, package_dir, listed_packages):
    """From a folder outside the checkout, advdl_plugins / advdl_envs import and plugins / envs do not."""
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE, *sorted(listed_packages)], cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    files = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if not line.startswith(("GENERIC", "heavy")))
    for package in listed_packages:
        folder = Path(files[package]).parent.resolve()
        expected = (ROOT / Path(package_dir.get(package.split(".")[0], package.split(".")[0]))
                    / Path(*package.split(".")[1:])).resolve()
        # an editable install imports from the checkout; a regular one (tox) from site-packages/<package>
        installed = folder.parts[-len(package.split(".")):] == tuple(package.split(".")) and "site-packages" in folder.parts
        assert folder == expected or installed, f"{package} imports from {folder}, expected {expected}"
    assert "GENERIC-IMPORTABLE" not in proc.stdout, proc.stdout
    # the plugin packages are cheap to import: advdl list imports them
    assert "heavy: []" in proc.stdout, proc.stdout


def test_entry_point_targets_import(tmp_path):
    probe = ("from importlib.metadata import entry_points\n"
             "for ep in entry_points(group='advdl'):\n"
             "    if ep.dist.name == 'advdl':\n"
             "        ep.load(); print(ep.name)\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == set(BUILTIN_ENTRY_POINTS)
