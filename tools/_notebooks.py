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
#: - 05 and 06 load the models 03 trained from the model store (outputs/models, "train once");
#:   run before 03 they would train them themselves (same results, minutes of duplicate work).
#:   05 and 06 also share the players of seeds 43 and 44 and the GAN: whichever of the two gets
#:   to one first trains it, the other waits for it and loads it (the store's entry lock).
#: Nothing else is shared: the others only write results named after themselves.
AFTER: dict[str, tuple[str, ...]] = {
    "02": ("01",),
    "03": ("01",),
    "04": ("01",),
    "05": ("01", "03"),
    "06": ("01", "03"),
    "07": ("01",),
}


#: Typical wall seconds of each notebook in a full run with two side by side (fresh clone,
#: 2026-12-03), used only to choose which ready notebook starts first: the one with the longest
#: chain of work ahead of it, its own time plus that of the notebooks waiting for it
#: (:func:`chain_seconds`). A wrong value costs minutes, never correctness; a notebook not in the
#: table counts 1 s, so in a small course the notebooks others wait for still start first.
TYPICAL_SECONDS: dict[str, float] = {
    "01": 7,
    "02": 28,
    "03": 177,
    "04": 300,
    "05": 110,
    "06": 305,
    "07": 101,
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


def chain_seconds(waits: dict[Path, list[Path]]) -> dict[Path, float]:
    """For each notebook of ``waits`` (from :func:`prerequisites`), its typical seconds plus the
    longest chain of notebooks that wait for it: the work that cannot start before it ends.

    Starting the ready notebook with the longest chain first keeps the critical path
    (01 -> 03 -> 06) moving while the other slot takes the rest.
    """
    dependants: dict[Path, list[Path]] = {nb: [] for nb in waits}
    for nb, deps in waits.items():
        for dep in deps:
            dependants[dep].append(nb)
    memo: dict[Path, float] = {}

    def chain(nb: Path) -> float:
        if nb not in memo:
            own = TYPICAL_SECONDS.get(prefix(nb), 1.0)
            memo[nb] = own + max((chain(d) for d in dependants[nb]), default=0.0)
        return memo[nb]

    return {nb: chain(nb) for nb in waits}
