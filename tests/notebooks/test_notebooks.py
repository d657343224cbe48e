"""Every notebook executes with QUICK parameters and records the expected results.

The committed notebooks are also re-run by nbval (`make test` passes --nbval-lax), which
compares the cells marked `# NBVAL_CHECK_OUTPUT` with their committed outputs. `make test`
runs nbval first, with ``GNNREC_QUICK=1`` and ``GNNREC_OUTPUT_DIR`` set, so each notebook's last
cell has already written its QUICK record; the reference check then reads that record instead
of executing the notebook a second time (papermill). Without such a record from the current
session (e.g. ``pytest tests/notebooks``) the notebook is executed with papermill, parameters
``QUICK=True`` and ``OUTPUT_DIR``. With pytest-xdist (`make test`: ``-n 2 --dist loadgroup``)
the root conftest.py keeps the nbval cells of all course notebooks and these checks in one work
unit, in collection order, so each check runs after the nbval run that wrote its record.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import NOTEBOOK_DIR, compare_to_reference, course_notebooks, load_reference

pytestmark = pytest.mark.notebooks

#: Imported at collection, before any test (nbval's included) runs.
SESSION_START = time.time()


@pytest.fixture(scope="session")
def quick_outputs(tmp_path_factory):
    return tmp_path_factory.mktemp("quick-results")


def _execute(notebook, output_dir):
    import papermill as pm

    executed = output_dir / f"{notebook.stem}.executed.ipynb"
    pm.execute_notebook(
        str(notebook),
        str(executed),
        parameters={"QUICK": True, "OUTPUT_DIR": str(output_dir)},
        kernel_name="gnnrec",
        cwd=str(NOTEBOOK_DIR),
        progress_bar=False,
    )
    return executed


def _record_from_nbval(notebook) -> Path | None:
    """The QUICK record nbval's run of ``notebook`` wrote in this session, if there is one."""
    out = os.environ.get("GNNREC_OUTPUT_DIR")
    if not out or os.environ.get("GNNREC_QUICK") != "1":
        return None
    path = Path(out) / f"{notebook.stem}.json"
    if path.exists() and path.stat().st_mtime >= SESSION_START:
        return path
    return None


def test_template_executes(quick_outputs):
    _execute(NOTEBOOK_DIR / "_template.ipynb", quick_outputs)
    assert json.loads((quick_outputs / "_template.json").read_text())["quick"] is True


# Run in order: later notebooks load what earlier ones saved.
@pytest.mark.parametrize("notebook", course_notebooks(), ids=lambda p: p.stem)
def test_notebook_quick_run_matches_reference(notebook, quick_outputs):
    results_file = _record_from_nbval(notebook)
    if results_file is None:
        _execute(notebook, quick_outputs)
        results_file = quick_outputs / f"{notebook.stem}.json"
    assert results_file.exists(), f"{notebook.name} did not record its results"
    results = json.loads(results_file.read_text())
    assert results.get("quick") is True, "the QUICK parameter did not reach the notebook"
    problems = compare_to_reference(results, load_reference(notebook.stem, "quick"))
    assert not problems, "\n".join(problems)
