"""tools/run_notebooks.py never leaves a result of a run that did not finish (issue 16, item 4).

Fault injection: in the runner's child processes papermill is replaced by a fake
(tests/unit/fake_papermill.py) that writes what a notebook would (its results, an executed
copy) and then fails or is interrupted; these tests run one notebook at a time (--jobs 1; the
scheduling has its own tests in test_runner_schedule.py). One test sends a real SIGTERM to a
real run (kernel 'gnnrec').
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import nbformat
import pytest

from tests.helpers import ROOT, wait_until
from tests.unit.fake_papermill import FakePapermill

sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks  # noqa: E402

pytestmark = pytest.mark.unit


def _notebook(path, sources):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("QUICK = False\nOUTPUT_DIR = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nb.metadata["kernelspec"] = {"name": "gnnrec", "display_name": "gnnrec", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("01_a", "02_b", "03_c"):
        _notebook(folder / f"{name}.ipynb", ["x = 1"])
    return folder, tmp_path / "out"


def _run(monkeypatch, course, fake, *only, jobs=1):
    """run_notebooks.main on the course, its children using ``fake`` instead of papermill."""
    folder, out = course
    for name, value in {**fake.env(), "PYTHONPATH": str(ROOT)}.items():
        monkeypatch.setenv(name, value)
    argv = ["--notebook-dir", str(folder), "--output-dir", str(out), "--jobs", str(jobs)]
    if only:
        argv += ["--only", *only]
    return run_notebooks.main(argv)


def _combined(out):
    return json.loads((out / "results.json").read_text())


def test_a_failed_rerun_removes_the_previous_results_and_results_json_drops_it(
    monkeypatch, course, capsys
):
    _, out = course
    assert _run(monkeypatch, course, FakePapermill()) == 0
    assert set(_combined(out)) == {"01_a", "02_b", "03_c"}
    assert _run(monkeypatch, course, FakePapermill(fail={"02_b"})) == 1
    assert "FAILED: 02_b.ipynb" in capsys.readouterr().err
    assert not (out / "results" / "02_b.json").exists()
    assert set(_combined(out)) == {"01_a", "03_c"}, "a failed notebook is not in results.json"
    # the scenario of the issue: a later --only 01 must not bring the failed notebook back
    assert _run(monkeypatch, course, FakePapermill(), "01") == 0
    assert "02_b" not in _combined(out)
    copy = nbformat.read(out / "executed" / "02_b.ipynb", as_version=4)
    assert run_notebooks.run_status(copy) == run_notebooks.ERROR


def test_files_a_failed_run_wrote_are_removed_and_so_are_those_of_its_last_good_run(
    monkeypatch, course
):
    _, out = course
    good = FakePapermill(extra_files={"03_c": ["03_results.csv", "03_split/train.tsv"]})
    assert _run(monkeypatch, course, good) == 0
    assert (out / "results" / "03_split" / "train.tsv").exists()
    # the next run of 03 fails before writing anything: its old table must not survive
    assert _run(monkeypatch, course, FakePapermill(fail={"03_c"}), "03") == 1
    assert not (out / "results" / "03_results.csv").exists()
    assert not (out / "results" / "03_split").exists()
    # a run that fails after writing part of its files leaves none of them
    half = FakePapermill(fail={"03_c"}, extra_files={"03_c": ["03_results.csv"]})
    assert _run(monkeypatch, course, half, "03") == 1
    assert not (out / "results" / "03_results.csv").exists()
    assert (out / "results" / "01_a.json").exists(), "other notebooks' results are kept"


def test_an_interrupted_run_is_marked_and_leaves_no_results(monkeypatch, course, capsys):
    _, out = course
    assert _run(monkeypatch, course, FakePapermill()) == 0
    stopped = FakePapermill(interrupt={"02_b"}, extra_files={"02_b": ["02_b.json"]})
    assert _run(monkeypatch, course, stopped) == 143
    assert "STOPPED: 02_b.ipynb" in capsys.readouterr().err
    assert not (out / "results" / "02_b.json").exists()
    assert set(_combined(out)) == {"01_a", "03_c"}
    copy = nbformat.read(out / "executed" / "02_b.ipynb", as_version=4)
    assert run_notebooks.run_status(copy) == run_notebooks.UNFINISHED
    assert copy.metadata[run_notebooks.RUN_KEY]["status"] == "interrupted"
    assert "did not finish" in copy.cells[0].source


def test_run_status_reads_a_sigkilled_copy_as_unfinished():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = 2")]
    nb.metadata["papermill"] = {"end_time": None, "exception": None}
    nb.cells[0].metadata["papermill"] = {"status": "completed"}
    nb.cells[1].metadata["papermill"] = {"status": "running"}
    assert run_notebooks.run_status(nb) == run_notebooks.UNFINISHED
    nb.metadata["papermill"]["end_time"] = "2026-01-01T00:00:00"
    nb.cells[1].metadata["papermill"]["status"] = "completed"
    assert run_notebooks.run_status(nb) == run_notebooks.FINISHED
    del nb.metadata["papermill"]  # a cleaned, committed notebook
    assert run_notebooks.run_status(nb) == run_notebooks.FINISHED


def test_injected_output_dir_is_relative_to_the_notebook_folder_inside_the_repository():
    shown = run_notebooks._parameter_path(ROOT / "outputs" / "results", ROOT / "notebooks")
    assert shown == os.path.join("..", "outputs", "results")


def test_sigterm_during_a_real_run_marks_the_copy_and_exits_143(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    record = "open(OUTPUT_DIR + '/01_slow.json', 'w').write('{}')"
    _notebook(folder / "01_slow.ipynb", [record, "import time\ntime.sleep(60)"])
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--notebook-dir", str(folder)]
        + ["--output-dir", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    copy = out / "executed" / "01_slow.ipynb"
    wait_until(
        lambda: copy.exists() and "time.sleep" in _running_source(copy),
        "the notebook reaching its sleeping cell",
        proc,
        poll=0.2,
    )
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stdout + stderr
    assert "STOPPED: 01_slow.ipynb" in stderr
    assert not (out / "results" / "01_slow.json").exists(), "the stopped run's result is gone"
    assert json.loads((out / "results.json").read_text()) == {}
    nb = nbformat.read(copy, as_version=4)
    assert run_notebooks.run_status(nb) == run_notebooks.UNFINISHED


def _running_source(path) -> str:
    try:
        nb = json.loads(path.read_text())
    except ValueError:
        return ""
    running = [
        c
        for c in nb["cells"]
        if c.get("metadata", {}).get("papermill", {}).get("status") == "running"
    ]
    return "".join("".join(c["source"]) for c in running)


def test_inplace_replaces_a_notebook_only_when_its_run_finished(monkeypatch, course, capsys):
    folder, out = course
    before = {p.name: p.read_text() for p in folder.glob("*.ipynb")}
    for name, value in {**FakePapermill(fail={"02_b"}).env(), "PYTHONPATH": str(ROOT)}.items():
        monkeypatch.setenv(name, value)
    argv = ["--notebook-dir", str(folder), "--output-dir", str(out), "--inplace", "--jobs", "1"]
    assert run_notebooks.main(argv) == 1
    assert "FAILED: 02_b.ipynb" in capsys.readouterr().err
    assert (folder / "02_b.ipynb").read_text() == before["02_b.ipynb"], "failed run: untouched"
    assert (folder / "03_c.ipynb").read_text() == before["03_c.ipynb"], "never ran: untouched"
    replaced = nbformat.read(folder / "01_a.ipynb", as_version=4)
    assert "papermill" not in replaced.metadata, "the finished notebook was cleaned"


def test_combined_results_hold_only_the_notebooks_records(tmp_path):
    # 06 writes 06_results.json next to its record 06_evaluation.json: a file of 06's, no record
    (tmp_path / "06_evaluation.json").write_text('{"a": 1}')
    (tmp_path / "06_results.json").write_text('{"protocol": {}}')
    out = tmp_path / "results.json"
    combined = run_notebooks.combine_results(tmp_path, out, stems={"06_evaluation"})
    assert combined == {"06_evaluation": {"a": 1}} == json.loads(out.read_text())
