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
