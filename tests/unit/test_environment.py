"""environment.yml (conda) and pyproject.toml (pip) pin the same versions."""

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
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


def lock_pins() -> dict[str, str]:
    """``name -> version`` of requirements-lock.txt (uv/pip-compile format with hashes)."""
    lock = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
        if match:
            lock[match.group(1).lower().replace("_", "-")] = match.group(2)
    return lock


def test_lock_file_satisfies_the_pins():
    lock = lock_pins()
    for name, version in pip_pins().items():
        key = name.replace("_", "-")
        assert key in lock, f"{name} missing from requirements-lock.txt"
        assert lock[key] == version or lock[key].startswith(version + "."), (
            f"{name}: lock has {lock[key]}, pyproject pins {version}"
        )


def test_lock_file_is_hashed_for_pip_require_hashes():
    """Every pinned requirement carries at least one sha256 (``pip install --require-hashes``)."""
    text = (ROOT / "requirements-lock.txt").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)
    pinned = [b for b in blocks if re.match(r"[A-Za-z0-9_.-]+==", b)]
    assert len(pinned) == len(lock_pins()) > 50
    unhashed = [b.split()[0] for b in pinned if "--hash=sha256:" not in b]
    assert not unhashed, f"requirements without a hash: {unhashed}"
    assert "-e " not in text and "file:" not in text, "the project itself is installed --no-deps"


#: Imported only by benchmarks that run in a throw-away venv of their own (their docstrings
#: say how): not part of the course environment.
THROWAWAY = {"phe", "tenseal", "recbole"}
#: Modules of this repository imported by name (tools/ and benchmarks/ put their folder first).
LOCAL = {
    "gnnrec_utils",
    "tests",
    "_notebooks",
    "_environment",
    "install_kernel",
    "clean_notebook",
    "make_student",
    "run_notebooks",
    "_peer_models",
    "bench_training",
}


def _imported_top_level_modules() -> dict[str, str]:
    found = {}
    for folder in ("gnnrec_utils", "tests", "tools", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_third_party_package_is_declared():
    declared = set(pip_pins())
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imported_top_level_modules().items()):
        if module in sys.stdlib_module_names or module in LOCAL | THROWAWAY:
            continue
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & declared:
            missing.append(f"{module} (imported in {where}, distribution {sorted(dists)})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)


def test_console_script_points_at_a_main_that_returns_an_exit_code():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target = project["scripts"]["gnnrec-evaluate"]
    module, _, func = target.partition(":")
    assert (module, func) == ("gnnrec_utils.cli", "main")
    tree = ast.parse((ROOT / "gnnrec_utils" / "cli.py").read_text())
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    assert mains and ast.unparse(mains[0].returns) == "int", "main() -> int (the exit code)"
    assert mains[0].args.defaults, "main(argv=None): callable without arguments"


def test_no_module_of_the_package_imports_the_command_line():
    """The CLI is the top layer: library code never depends on it (issue 13)."""
    offenders = []
    for path in sorted((ROOT / "gnnrec_utils").rglob("*.py")):
        if path.name == "cli.py" and path.parent.name == "gnnrec_utils":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
                if node.level:  # relative import inside the package
                    names += [alias.name for alias in node.names if base == ""]
            else:
                continue
            if any(n == "gnnrec_utils.cli" or n == "cli" for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"these modules import the command line gnnrec_utils.cli: {offenders}"


def test_requires_python_matches_what_the_code_and_environment_yml_need():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"  # tomllib here; the lock is for 3.11
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


# --------------------------------------------------------------------------------------------
# The course's environment variables: one home (gnnrec.env), three readers that agree with it
# --------------------------------------------------------------------------------------------


def _course_environment() -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "tools"))
    from _environment import course_environment

    return course_environment()


def _clean_env() -> dict[str, str]:
    keys = _course_environment()
    return {k: v for k, v in os.environ.items() if k not in keys}


def test_gnnrec_env_holds_the_course_variables():
    env = _course_environment()
    assert env == {
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONHASHSEED": "0",
        "TF_ENABLE_ONEDNN_SPMM": "1",
        "TF_NUM_INTRAOP_THREADS": "1",  # one core per TF process: `make test` runs two workers
        "TF_NUM_INTEROP_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",  # and per NumPy/SciPy process
    }


def test_environment_parser_refuses_what_make_would_read_differently(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    from _environment import course_environment

    path = tmp_path / "x.env"
    path.write_text("# comment\n\nA=1\n")
    assert course_environment(path) == {"A": "1"}
    path.write_text("A = 1\n")
    with pytest.raises(ValueError, match="x.env:1"):
        course_environment(path)


def _run_clean(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """``args`` from the repository root, without the course's variables in its environment."""
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, cwd=ROOT, env=_clean_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_makefile_exports_gnnrec_env():
    probe = "_print_env:\n\t@env\n"
    done = _run_clean(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "_print_env"], probe
    )
    seen = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    for key, value in _course_environment().items():
        assert seen.get(key) == value, f"make does not export {key}={value}"
    text = (ROOT / "Makefile").read_text()
    for key in _course_environment():
        assert f"{key} :=" not in text and f"{key}=" not in text, f"Makefile sets {key} itself"


def test_conftest_sets_gnnrec_env():
    code = (
        "import json, os, runpy; runpy.run_path('conftest.py'); print(json.dumps(dict(os.environ)))"
    )
    seen = json.loads(_run_clean([sys.executable, "-c", code]).stdout)
    for key, value in _course_environment().items():
        assert seen.get(key) == value, f"conftest.py does not set {key}={value}"


def test_kernel_spec_carries_gnnrec_env():
    sys.path.insert(0, str(ROOT / "tools"))
    import install_kernel

    assert install_kernel.ENV == _course_environment()
    text = (ROOT / "tools" / "install_kernel.py").read_text()
    assert '"TF_USE_LEGACY_KERAS": "1"' not in text, "install_kernel.py sets the variables itself"
