"""Small helpers every notebook uses: printing versions and recording headline results.

Taught in every notebook's "0 Setup" and "Record results" cells (see notebooks/_template.ipynb).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PACKAGES = ("numpy", "pandas", "scipy", "matplotlib")


def versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """``{"python": "3.11.7", "numpy": "2.4.6", …}`` for the given importable packages."""
    out = {"python": platform.python_version()}
    for name in packages:
        module = importlib.import_module(name)
        out[name] = str(getattr(module, "__version__", "unknown"))
    return out


def print_versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> None:
    """Print one aligned ``name  version`` line per package (the setup cell of each notebook)."""
    table = versions(packages)
    width = max(len(k) for k in table)
    for name, version in table.items():
        print(f"{name:<{width}}  {version}")


QUICK_ENV = "GNNREC_QUICK"


def resolve_quick(quick: bool) -> bool:
    """The notebook's QUICK parameter, forced on when ``$GNNREC_QUICK`` is ``1``/``true``.

    papermill sets QUICK through the parameters cell; nbval cannot inject parameters, so
    ``make test`` re-runs the committed notebooks under nbval with ``GNNREC_QUICK=1``. Cells
    marked ``# NBVAL_CHECK_OUTPUT`` therefore print only what does not depend on QUICK.
    """
    return bool(quick) or os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes"}


def json_plain(value: Any, paths: str = "posix", nonfinite: str = "refuse") -> Any:
    """``value`` as plain JSON values: mappings -> dicts with text keys, tuples and arrays ->
    lists, NumPy scalars -> Python numbers; NaN and infinities raise ``ValueError``, any
    other type raises ``TypeError`` naming it.

    ``paths``: ``"posix"`` writes a :class:`~pathlib.Path` as ``a/b`` text (headline results);
    ``"refuse"`` raises ``TypeError`` (an artefact manifest must not record machine paths).
    ``nonfinite``: ``"refuse"`` (headline results: a NaN there is a bug) or ``"keep"`` (a
    training history, whose "best so far" may start at ``-inf``; Python's ``json`` writes them).

    The one converter of the package: :func:`record_results` (every notebook's last cell) and
    :func:`gnnrec_utils.artefacts.save_artefacts` (notebook 01's artefacts) use it.
    """
    if paths not in ("posix", "refuse"):
        raise ValueError(f'paths must be "posix" or "refuse", got {paths!r}')
    if nonfinite not in ("refuse", "keep"):
        raise ValueError(f'nonfinite must be "refuse" or "keep", got {nonfinite!r}')
    if isinstance(value, Mapping):
        return {str(k): json_plain(v, paths, nonfinite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_plain(v, paths, nonfinite) for v in value]
    if isinstance(value, np.ndarray):
        return json_plain(value.tolist(), paths, nonfinite)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Path):
        if paths == "refuse":
            raise TypeError("paths are machine-specific; do not record them")
        return value.as_posix()
    if isinstance(value, float) and not math.isfinite(value) and nonfinite != "keep":
        raise ValueError(f"refusing to record a non-finite number ({value!r})")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{value!r} ({type(value).__name__}) is not a JSON value; convert it first")


def record_results(notebook: str, results: Mapping[str, Any], output_dir: str | Path) -> Path:
    """Write ``results`` to ``<output_dir>/<notebook>.json`` (sorted keys) and return the path.

    The tests (tests/notebooks) and ``make run``'s combined results file read these files.
    """
    path = Path(output_dir) / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_plain(dict(results)), indent=2, sort_keys=True) + "\n"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
