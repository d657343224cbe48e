"""environment.yml (conda) and pyproject.toml (pip) pin the same versions."""

import re
from pathlib import Path

import pytest
import tomllib
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# pip name -> conda-forge name where they differ
CONDA_NAME = {}


def pip_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs.extend(extra)
    pins = {}
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9.]*?)(\.\*)?", spec)
        assert match, f"pyproject dependency {spec!r} is not pinned as NAME==X.Y.* or NAME==X.Y.Z"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            continue
        name, _, version = dep.partition("=")
        pins[name.lower()] = version
    return pins


def test_every_pip_pin_is_in_environment_yml_with_the_same_version():
    conda = conda_pins()
    for name, version in pip_pins().items():
        conda_name = CONDA_NAME.get(name, name)
        assert conda_name in conda, f"{conda_name} missing from environment.yml"
        assert conda[conda_name] == version, (
            f"{name}: pyproject pins {version}, environment.yml pins {conda[conda_name]}"
        )


def test_environment_yml_has_nothing_pyproject_lacks():
    extra = set(conda_pins()) - {CONDA_NAME.get(n, n) for n in pip_pins()} - {"python", "pip"}
    assert not extra, f"environment.yml pins packages pyproject.toml does not: {sorted(extra)}"


def test_lock_file_satisfies_the_pins():
    lock = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[name.lower().replace("_", "-")] = version
    for name, version in pip_pins().items():
        key = name.replace("_", "-")
        assert key in lock, f"{name} missing from requirements-lock.txt"
        assert lock[key] == version or lock[key].startswith(version + "."), (
            f"{name}: lock has {lock[key]}, pyproject pins {version}"
        )
