"""The student edition runs up to its first exercise and stops there with the stub's message."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers import NOTEBOOK_DIR, ROOT, course_notebooks

sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

pytestmark = pytest.mark.notebooks


def _first_exercise_label(path) -> str:
    for cell in json.loads(path.read_text())["cells"]:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            first = "".join(cell["source"]).splitlines()[0]
            return make_student.HEADER.match(first).group(1)
    raise AssertionError(f"{path.name} has no solution cell")


@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: p.stem)
def test_student_edition_stops_at_first_exercise(path, tmp_path):
    import papermill as pm

    assert make_student.main([str(path), "--out", str(tmp_path)]) == 0
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(
            str(tmp_path / path.name),
            str(tmp_path / f"{path.stem}.out.ipynb"),
            parameters={"QUICK": True, "OUTPUT_DIR": str(tmp_path / "results")},
            kernel_name="gnnrec",
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
        )
    assert err.value.ename == "NotImplementedError"
    assert f"{_first_exercise_label(path)}:" in err.value.evalue
    assert not (tmp_path / "results" / f"{path.stem}.json").exists()
