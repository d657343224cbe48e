"""`make run`'s runner stops at the first failing notebook, naming the notebook and the cell."""

from __future__ import annotations

import sys

import nbformat
import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks  # noqa: E402

pytestmark = pytest.mark.notebooks


def _notebook(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    params = nbformat.v4.new_code_cell("QUICK = False\nOUTPUT_DIR = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells.insert(0, params)
    nb.metadata["kernelspec"] = {"name": "gnnrec", "display_name": "gnnrec", "language": "python"}
    nbformat.write(nb, path)


def test_stops_at_first_failing_notebook_and_names_the_cell(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(notebooks / "01_ok.ipynb", ["x = 1"])
    _notebook(notebooks / "02_broken.ipynb", ["y = 2", "raise ValueError('planted failure')"])
    _notebook(notebooks / "03_never.ipynb", ["z = 3"])
    code = run_notebooks.main(
        ["--notebook-dir", str(notebooks), "--output-dir", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED:" in err and "02_broken.ipynb" in err
    assert "ValueError: planted failure" in err
    assert "starting \"raise ValueError('planted failure')\"" in err  # the failing cell
    assert (tmp_path / "out" / "executed" / "01_ok.ipynb").exists()
    assert not (tmp_path / "out" / "executed" / "03_never.ipynb").exists()
