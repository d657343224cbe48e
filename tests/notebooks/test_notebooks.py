"""Every notebook executes with QUICK parameters (papermill) and records the expected results.

The committed notebooks are also re-run by nbval (`make test` passes --nbval-lax), which
compares the cells marked `# NBVAL_CHECK_OUTPUT` with their committed outputs.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import NOTEBOOK_DIR, compare_to_reference, course_notebooks, load_reference

pytestmark = pytest.mark.notebooks


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


def test_template_executes(quick_outputs):
    _execute(NOTEBOOK_DIR / "_template.ipynb", quick_outputs)
    assert json.loads((quick_outputs / "_template.json").read_text())["quick"] is True


# Run in order: later notebooks load what earlier ones saved.
@pytest.mark.parametrize("notebook", course_notebooks(), ids=lambda p: p.stem)
def test_notebook_quick_run_matches_reference(notebook, quick_outputs):
    _execute(notebook, quick_outputs)
    results_file = quick_outputs / f"{notebook.stem}.json"
    assert results_file.exists(), f"{notebook.name} did not record its results"
    results = json.loads(results_file.read_text())
    assert results.get("quick") is True, "the QUICK parameter did not reach the notebook"
    problems = compare_to_reference(results, load_reference(notebook.stem, "quick"))
    assert not problems, "\n".join(problems)
