"""Which notebooks make up the course: the one definition the tools and the tests share.

A course notebook is ``notebooks/NN_name.ipynb`` (two digits, an underscore, a name); they run
in the order of their numbers. ``_template.ipynb`` and other files in the folder are not part
of the course. Used by ``tools/run_notebooks.py``, ``tools/build_report.py``,
``tools/make_student.py`` and ``tests/helpers.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
#: File names of the course notebooks (and of their executed copies).
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def course_notebooks(folder: Path = NOTEBOOK_DIR, only: Iterable[str] | None = None) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` of ``folder`` in run order (none if ``folder``
    does not exist), optionally only those whose name starts with one of ``only``."""
    folder = Path(folder)
    found = sorted(folder.glob(NOTEBOOK_GLOB)) if folder.is_dir() else []
    if only:
        prefixes = tuple(only)
        found = [p for p in found if p.name.startswith(prefixes)]
    return found


#: The one table of which notebook waits for which (keys and values: two-digit prefixes), read
#: by ``tools/run_notebooks.py --jobs N`` to run the others side by side:
#: - 01 writes data/processed/, which every other notebook reads: all wait for it;
#: - 06 loads the models 03 trained from the model store (outputs/models, "train once"); run
#:   before 03 it would train them itself (same results, minutes of duplicate work).
#: Nothing else is shared: the others only write results named after themselves.
AFTER: dict[str, tuple[str, ...]] = {
    "02": ("01",),
    "03": ("01",),
    "04": ("01",),
    "05": ("01",),
    "06": ("01", "03"),
    "07": ("01",),
}


def prefix(notebook: Path) -> str:
    """The two-digit number of a course notebook (``03`` for ``03_mf_recommendation.ipynb``)."""
    return Path(notebook).name[:2]


def prerequisites(notebooks: Iterable[Path]) -> dict[Path, list[Path]]:
    """For each of ``notebooks``, those among them it must wait for (per :data:`AFTER`).

    A prerequisite that is not in ``notebooks`` (an ``--only`` subset) is not waited for: its
    outputs from an earlier run are used, or the notebook produces what it lacks itself.
    """
    notebooks = list(notebooks)
    by_prefix = {prefix(nb): nb for nb in notebooks}
    return {
        nb: [by_prefix[p] for p in AFTER.get(prefix(nb), ()) if p in by_prefix] for nb in notebooks
    }
