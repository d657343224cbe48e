"""`make run`'s runner with the real kernel: one line per notebook, logs aside, stops at the first
failure."""

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
    code = run_notebooks.main(  # one at a time: 03 would otherwise start next to 02
        ["--notebook-dir", str(notebooks), "--output-dir", str(tmp_path / "out"), "--jobs", "1"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED:" in err and "02_broken.ipynb" in err
    assert "ValueError: planted failure" in err
    assert "starting \"raise ValueError('planted failure')\"" in err  # the failing cell
    assert (tmp_path / "out" / "executed" / "01_ok.ipynb").exists()
    assert not (tmp_path / "out" / "executed" / "03_never.ipynb").exists()


def test_terminal_shows_one_line_per_notebook_and_the_log_gets_the_rest(tmp_path, capfd):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    noisy = "import sys\nprint('cell output')\nprint('to stderr', file=sys.stderr)"
    _notebook(notebooks / "01_a.ipynb", [noisy])
    _notebook(
        notebooks / "02_b.ipynb",
        ["from gnnrec_utils._progress import tqdm\nsum(tqdm(range(5), desc='loop'))"],
    )
    out_dir = tmp_path / "out"
    code = run_notebooks.main(["--notebook-dir", str(notebooks), "--output-dir", str(out_dir)])
    captured = capfd.readouterr()  # file-descriptor level: what the kernel process wrote too
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 4, lines  # header, one per notebook, the summary
    assert lines[1].split()[:2] == ["01_a", "ok"] and lines[2].split()[:2] == ["02_b", "ok"]
    assert captured.err == "", "nothing on stderr on a healthy run (kernel warnings go to the log)"
    log = (out_dir / "logs" / "01_a.log").read_text()
    assert "cell output" in log and "to stderr" in log
    executed = nbformat.read(out_dir / "executed" / "02_b.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert printed.startswith("loop: done 5/5 ["), "the runner's kernels print one summary line"
