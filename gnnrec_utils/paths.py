"""Where things live: the repository root, the data cache and the output folder.

Notebooks resolve every path through these functions (or their DATA_DIR / OUTPUT_DIR
parameters), so they run from any working directory, in JupyterLab, papermill or pytest.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "GNNREC_DATA_DIR"
OUTPUT_ENV = "GNNREC_OUTPUT_DIR"


def repo_root() -> Path:
    """The folder that holds ``pyproject.toml`` above this package (editable install), else cwd."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file():
        return here
    return Path.cwd()


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data cache: ``override``, else ``$GNNREC_DATA_DIR``, else ``<repo>/data``."""
    if override:
        return Path(override).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    return repo_root() / "data"


def output_dir(override: str | os.PathLike | None = None, create: bool = True) -> Path:
    """Results of runs: ``override``, else ``$GNNREC_OUTPUT_DIR``, else ``<repo>/outputs``."""
    if override:
        path = Path(override).expanduser().resolve()
    elif os.environ.get(OUTPUT_ENV):
        path = Path(os.environ[OUTPUT_ENV]).expanduser().resolve()
    else:
        path = repo_root() / "outputs"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
