"""Fault injection for ``python -m gnnrec_utils.cli`` (issue 16): ``--out`` that cannot
be written (checked before training; atomic write under a file-size limit), ids spelled
differently across files, ``--seed`` out of range, byte-identical output, memory refusal.

Read-only folder: run as root, ``chmod`` does not stop writes, so the CLI runs in a
subprocess through ``setpriv`` without ``CAP_DAC_OVERRIDE`` (see test_robustness_data.py);
the in-process tests that prove the check comes *before* training replace ``train_model`` by
a stub that fails if it is called. Interrupted write: ``RLIMIT_FSIZE`` set in the child
(``prlimit --fsize``), so the write of the metrics fails half-way with ``EFBIG``.
"""

from __future__ import annotations

from gnnrec_utils import cli

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT
from tests.unit.test_robustness_data import assert_cannot_write, make_read_only, unprivileged

pytestmark = pytest.mark.unit

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def write_split(folder: Path, item_format: str = "{}", test_extra: str = "") -> dict:
    """30 users, items 1..80: 16 training, 2 validation and 6 test items per user."""
    rng = np.random.default_rng(0)
    rows = {"train": [], "valid": [], "test": []}
    for u in range(1, 31):
        items = rng.permutation(np.arange(1, 81))[:24]
        rows["train"] += [(u, i) for i in items[:16]]
        rows["valid"] += [(u, i) for i in items[16:18]]
        rows["test"] += [(u, i) for i in items[18:24]]
    paths = {}
    for role, pairs in rows.items():
        fmt = item_format if role == "test" else "{}"
        lines = ["user_id\titem_id"] + [f"{u}\t{fmt.format(i)}" for u, i in pairs]
        path = folder / f"{role}.tsv"
        path.write_text("\n".join(lines) + "\n" + (test_extra if role == "test" else ""))
        paths[role] = str(path)
    return paths


def args_for(split: dict, *extra: str, model: str = "pop") -> list[str]:
    return ["--model", model, "--train", split["train"], "--valid", split["valid"]] + [
        "--test",
        split["test"],
        "--quiet",
        *extra,
    ]


def run_cli(argv, prefix=(), preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "gnnrec_utils.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=300,
        preexec_fn=preexec_fn,
    )


def error_lines(stderr: str) -> list[str]:
    """Our lines on stderr (TensorFlow's start-up log lines, if any, are not ours)."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith(("error:", "warning:"))]


@pytest.fixture
def split(tmp_path):
    return write_split(tmp_path)


@pytest.fixture
def previous(tmp_path):
    """A previous good metrics file that every failure must leave as it was."""
    path = tmp_path / "metrics.json"
    path.write_text('{"previous": "good run"}\n')
    return path


def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started before --out was checked")

    monkeypatch.setattr(cli, "train_model", fail)
    monkeypatch.setattr(cli, "load_split_files", fail)


# --------------------------------------------------------------------------------------------
# --out: checked before training, written atomically
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("folder", "is a folder; name a file"),
        ("under_a_file", "which is a file"),
        ("dev_full", "is not a regular file"),
    ],
)
def test_unwritable_out_is_refused_before_training(
    case, expected, split, tmp_path, monkeypatch, capsys
):
    out = {
        "folder": str(tmp_path),
        "under_a_file": str(Path(split["train"]) / "metrics.json"),
        "dev_full": "/dev/full",
    }[case]
    if case == "dev_full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    train_before = Path(split["train"]).read_bytes()
    no_training(monkeypatch)
    code = cli.main(args_for(split, "--out", out))
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    (line,) = error_lines(captured.err)
    assert line.startswith("error: --out") and expected in line
    assert Path(split["train"]).read_bytes() == train_before


def test_out_in_read_only_folder_is_refused_and_previous_file_kept(split, previous):
    folder = previous.parent
    before = previous.read_bytes()
    make_read_only(folder)
    try:
        prefix = unprivileged()
        assert_cannot_write(folder, prefix)
        proc = run_cli(args_for(split, "--out", str(previous)), prefix=prefix)
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = error_lines(proc.stderr)
    assert f"cannot write in the folder {str(folder)!r} (Permission denied)" in line
    assert previous.read_bytes() == before


def test_out_read_only_check_comes_before_training(split, previous, monkeypatch, capsys):
    """The same refusal in-process, with the OS call replaced: proves the order."""

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    no_training(monkeypatch)
    monkeypatch.setattr(cli.tempfile, "mkstemp", denied)
    assert cli.main(args_for(split, "--out", str(previous))) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "(Permission denied); choose a writable folder" in line


def test_write_cut_by_file_size_limit_keeps_previous_file(split, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"previous": "good run", "pad": "x" * 600}) + "\n")
    before = good.read_bytes()

    def limit():  # what `prlimit --fsize=500` does: the write of a longer file fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))

    proc = run_cli(args_for(split, "--out", str(good)), preexec_fn=limit)
    assert proc.returncode == 1
    (line,) = error_lines(proc.stderr)
    assert "could not write" in line and "File too large" in line and "unchanged" in line
    assert good.read_bytes() == before
    printed = json.loads(proc.stdout)  # the metrics are still printed
    assert printed["model"] == "pop" and len(proc.stdout) > 500
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["good.json", "test.tsv", "train.tsv", "valid.tsv"]  # no temporary file


# --------------------------------------------------------------------------------------------
# Ids spelled differently across files; missing-value ids
# --------------------------------------------------------------------------------------------


def test_item_ids_written_as_floats_give_the_same_metrics(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    (tmp_path / "floats").mkdir()
    plain = write_split(tmp_path / "plain")
    floats = write_split(tmp_path / "floats", item_format="{}.0")  # 13 -> "13.0" in test
    assert Path(floats["test"]).read_text().splitlines()[1].endswith(".0")
    assert cli.main(args_for(plain)) == 0
    want = json.loads(capsys.readouterr().out)
    assert cli.main(args_for(floats)) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == want  # same catalogue (80 items), same metrics
    assert want["n_items"] == 80 and want["test"]["recall@20"] > 0
    assert "never occur in the training file" not in captured.err


def test_float_ids_in_a_text_column_are_refused(tmp_path, capsys):
    # one text id ("x1") keeps the test file's item column as text, so "13.0" stays "13.0"
    # and would silently become a new item: refused, naming both spellings
    split = write_split(tmp_path, item_format="{}.0", test_extra="1\tx1\n")
    first = Path(split["test"]).read_text().splitlines()[1].split("\t")[1]
    assert cli.main(args_for(split)) == 2
    captured = capsys.readouterr()
    (line,) = error_lines(captured.err)
    assert f"item_id {first!r} of the test file is spelled {first[:-2]!r} in the training" in line
    assert captured.out == ""


def test_nan_user_in_test_file_is_refused(tmp_path, capsys):
    split = write_split(tmp_path, test_extra="NaN\t3\n")
    assert cli.main(args_for(split)) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "user_id 'NaN' marks a missing value, not an id" in line


def test_nan_user_in_training_file_is_refused(tmp_path, capsys):
    split = write_split(tmp_path)
    with open(split["train"], "a") as handle:
        handle.write("NaN\t5\n")
    assert cli.main(args_for(split)) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "train.tsv, line 482: user_id 'NaN' marks a missing value" in line


# --------------------------------------------------------------------------------------------
# --seed range; byte-identical output; timings behind a flag
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_seed_out_of_range_is_one_line(split, seed, monkeypatch, capsys):
    no_training(monkeypatch)
    assert cli.main(args_for(split, "--seed", seed)) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line == f"error: --seed must be between 0 and 4294967295, got {seed}"


def test_largest_seed_is_accepted(split, capsys):
    assert cli.main(args_for(split, "--seed", "4294967295")) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 4294967295


def test_two_identical_runs_write_byte_identical_metrics(split, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        proc = run_cli(args_for(split, "--out", str(out), model="lightgcn") + ["--epochs", "2"])
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    result = json.loads(a.read_text())
    assert "timings" not in result and "train_seconds" not in result
    assert result["stopped_epoch"] == 2


def test_timings_only_with_the_flag(split, capsys):
    assert cli.main(args_for(split, "--timings")) == 0
    timings = json.loads(capsys.readouterr().out)["timings"]
    assert set(timings) == {"fit_seconds", "evaluate_seconds"}
    assert all(value >= 0 for value in timings.values())


# --------------------------------------------------------------------------------------------
# What cannot fit in memory is refused before training
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "what"),
    [
        ("ease", "about five dense 80 × 80 float64 matrices"),
        ("lightgcn", "a dense 30 × 80 float32 score matrix"),
    ],
)
def test_model_that_cannot_fit_is_refused_before_training(split, monkeypatch, capsys, model, what):
    monkeypatch.setattr(cli, "_available_memory", lambda: 1000)  # 1 kB "available"
    monkeypatch.setattr(cli, "train_model", lambda *a, **k: pytest.fail("trained"))
    assert cli.main(args_for(split, model=model)) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert f"--model {model} needs {what}" in line
    assert "but only 1000 bytes of memory is available; use --model pop" in line


def test_available_memory_is_read_from_proc_meminfo():
    available = cli._available_memory()
    if not Path("/proc/meminfo").exists():
        assert available is None
    else:
        assert available is not None and 2**20 < available < 2**50
