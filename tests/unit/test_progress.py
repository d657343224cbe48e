"""Progress bars: live by default, one finished line under GNNREC_PROGRESS=summary, none if off."""

from __future__ import annotations

from gnnrec_utils import _progress
from gnnrec_utils._progress import PROGRESS_ENV, SummaryBar, progress_mode, tqdm

import io

import pytest

pytestmark = pytest.mark.unit


def test_mode_defaults_to_live_and_reads_the_variable():
    assert progress_mode({}) == "live"
    assert progress_mode({PROGRESS_ENV: ""}) == "live"
    assert progress_mode({PROGRESS_ENV: " Summary "}) == "summary"
    assert progress_mode({PROGRESS_ENV: "off"}) == "off"


def test_unknown_mode_is_one_clear_error_naming_the_variable():
    with pytest.raises(ValueError, match=r"GNNREC_PROGRESS='bars'.*live, summary, off"):
        progress_mode({PROGRESS_ENV: "bars"})


def test_live_mode_is_tqdm_auto(monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    bar = tqdm(total=3, file=io.StringIO())
    bar.close()
    assert isinstance(bar, _progress._auto_tqdm)
    assert not isinstance(bar, SummaryBar)


def test_summary_mode_prints_one_finished_line_and_nothing_before(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "summary")
    out = io.StringIO()
    bar = tqdm(total=300, desc="BPR-MF", file=out, mininterval=0)
    for _ in range(300):
        bar.set_postfix({"loss": "0.1234"}, refresh=False)
        bar.update(1)
        assert out.getvalue() == "", "nothing is written while the loop runs"
    bar.close()
    bar.close()  # a second close adds nothing
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "\r" not in text and "%|" not in text, "no bar frame, so nothing looks frozen"
    assert text.startswith("BPR-MF: done 300/300 [") and "loss=0.1234" in text


def test_summary_mode_says_where_an_early_stopped_loop_ended(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "summary")
    out = io.StringIO()
    with tqdm(total=300, desc="LightGCN", file=out) as bar:
        bar.update(120)
    text = out.getvalue()
    assert text.startswith("LightGCN: stopped at 120/300 [")
    assert "%|" not in text and "done" not in text


def test_summary_mode_wraps_iterables_and_defaults_to_stdout(monkeypatch, capsys):
    monkeypatch.setenv(PROGRESS_ENV, "summary")
    assert list(tqdm(range(4), desc="runs")) == [0, 1, 2, 3]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("runs: done 4/4 [")


def test_disabled_and_off_bars_write_nothing(monkeypatch):
    out = io.StringIO()
    monkeypatch.setenv(PROGRESS_ENV, "summary")
    with tqdm(total=5, file=out, disable=True) as bar:
        bar.update(5)
    monkeypatch.setenv(PROGRESS_ENV, "off")
    with tqdm(total=5, file=out) as bar:
        bar.update(5)
    assert out.getvalue() == ""


def test_summary_without_a_total_counts_what_ran(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "summary")
    out = io.StringIO()
    for _ in tqdm(iter(range(7)), desc="stream", file=out):
        pass
    assert out.getvalue().startswith("stream: done 7 [")
