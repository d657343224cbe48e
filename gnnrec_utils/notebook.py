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


def _plain(value: Any) -> Any:
    """Convert NumPy scalars/arrays and tuples to JSON-friendly Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to record a non-finite number ({value!r})")
    if isinstance(value, Path):
        return value.as_posix()
    return value


def record_results(notebook: str, results: Mapping[str, Any], output_dir: str | Path) -> Path:
    """Write ``results`` to ``<output_dir>/<notebook>.json`` (sorted keys) and return the path.

    The tests (tests/notebooks) and ``make run``'s combined results file read these files.
    """
    path = Path(output_dir) / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(dict(results)), indent=2, sort_keys=True) + "\n"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
