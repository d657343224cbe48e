"""Repository-wide pytest set-up: runs before any test module imports TensorFlow.

TensorFlow decides between Keras 3 and tf-keras when it is first imported, from
TF_USE_LEGACY_KERAS. Setting the course's variables here (from ``gnnrec.env``, their one home)
makes every pytest run (unit tests, papermill-driven notebook tests, nbval) use tf-keras
whatever the test modules import first. Values already set in the environment are kept.

With pytest-xdist (`make test` runs ``-n 2 --dist loadgroup``) the course notebooks stay one
ordered piece of work on one worker, see :func:`pytest_xdist_make_scheduler`.
"""

import os
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(_ROOT / "tools"))
from _environment import course_environment  # noqa: E402
from _notebooks import course_notebooks  # noqa: E402

for _key, _value in course_environment().items():
    os.environ.setdefault(_key, _value)

#: The one xdist work unit that holds the course notebooks' nbval cells and reference checks.
NOTEBOOK_GROUP = "course-notebooks"
#: The test that reads each notebook's QUICK record (tests/notebooks/test_notebooks.py).
REFERENCE_CHECK = "tests/notebooks/test_notebooks.py::test_notebook_quick_run_matches_reference["
_NOTEBOOK_FILES = {p.relative_to(_ROOT).as_posix() for p in course_notebooks()}


def notebook_group(nodeid: str) -> str | None:
    """:data:`NOTEBOOK_GROUP` for an nbval cell of a course notebook or its reference check."""
    if nodeid.split("::", 1)[0] in _NOTEBOOK_FILES or nodeid.startswith(REFERENCE_CHECK):
        return NOTEBOOK_GROUP
    return None


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: ignored when xdist is absent
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the course notebooks as one work unit, in collection order.

    A work unit goes to one worker, which runs it in collection order, so: the cells of a
    notebook run in order in the one kernel nbval starts for them; the notebooks run in course
    order (01 writes data/processed/ that the others read, 06 loads from the model store what
    03 trained: tools/_notebooks.AFTER); and each reference check runs after all nbval cells
    (the Makefile lists the notebooks before ``tests``), so it reads the record nbval's run
    wrote instead of executing the notebook again. Every other test is its own unit, spread
    over the workers as they free up (the biggest unit, the notebooks, is handed out first).

    The group is decided here from node ids rather than by ``xdist_group`` marks: with pytest
    9.2, xdist 3.8 cannot attach a mark's group to the node id and silently ignores the marks
    (pytest-dev/pytest-xdist#1386).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class NotebookGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return notebook_group(nodeid) or super()._split_scope(nodeid)

    return NotebookGroupScheduling(config, log)
