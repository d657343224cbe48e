"""gnnrec_utils.evaluate: the full-ranking evaluator against the metrics module, and the
command line on tiny files (happy paths, id mapping, and one clear message per bad file)."""

from __future__ import annotations

from gnnrec_utils import evaluate
from gnnrec_utils.metrics import evaluate_ranking

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.unit

# --------------------------------------------------------------------------------------------
# Evaluator
# --------------------------------------------------------------------------------------------


def test_ranking_evaluator_masks_train_and_valid_like_evaluate_ranking():
    rng = np.random.default_rng(0)
    n_users, n_items = 12, 40
    cells = rng.permutation(n_users * n_items)[:150]
    users, items = cells // n_items, cells % n_items
    train, valid, test = (
        (users[:90], items[:90]),
        (users[90:110], items[90:110]),
        (users[110:], items[110:]),
    )
    scores = rng.normal(size=(n_users, n_items))
    ev = evaluate.RankingEvaluator(test, n_users, n_items, exclude=[train, valid])
    truth = np.zeros((n_users, n_items), bool)
    truth[test] = True
    ex = np.zeros((n_users, n_items), bool)
    ex[train] = True
    ex[valid] = True
    want = evaluate_ranking(scores, truth, ex, ks=(10, 20))
    got = ev(scores)
    assert got == want
    assert {"recall@20", "ndcg@20", "precision@10", "hit_rate@20", "map@20"} <= set(got)

    # a model object works too, and full_ranking_metrics is the one-shot form
    class Fixed:
        def score_all_users(self):
            return scores

    assert ev(Fixed()) == want
    assert evaluate.full_ranking_metrics(scores, test, [train, valid]) == want
    with pytest.raises(ValueError, match="excluded"):
        evaluate.RankingEvaluator(test, n_users, n_items, exclude=[test])


def test_perfect_scores_give_recall_one_when_few_held_out():
    n_users, n_items = 5, 30
    test = (np.arange(5), np.arange(5) * 2)
    scores = np.zeros((n_users, n_items))
    scores[test] = 1.0
    got = evaluate.full_ranking_metrics(scores, test)
    assert got["recall@10"] == got["ndcg@10"] == got["hit_rate@10"] == got["map@10"] == 1.0


def test_full_ranking_of_movielens_size_is_fast():
    rng = np.random.default_rng(0)
    n_users, n_items = 943, 1682
    u = rng.integers(0, n_users, 90_000)
    i = rng.integers(0, n_items, 90_000)
    key = np.unique(u * n_items + i)
    u, i = key // n_items, key % n_items
    ev = evaluate.RankingEvaluator(
        (u[:20_000], i[:20_000]), n_users, n_items, exclude=[(u[20_000:], i[20_000:])]
    )
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        ev(scores)
        times.append(time.perf_counter() - t)
    assert np.median(times) < 1.0  # about 0.05 s measured; "well under a second"


def test_rating_errors():
    got = evaluate.rating_errors([1.0, 2.0, 5.0], [2.0, 2.0, 3.0])
    assert np.isclose(got["rmse"], np.sqrt(5 / 3)) and np.isclose(got["mae"], 1.0)
    with pytest.raises(ValueError):
        evaluate.rating_errors([], [])


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def write(path, header, rows, sep="\t"):
    path.write_text(sep.join(header) + "\n" + "".join(sep.join(map(str, r)) + "\n" for r in rows))
    return str(path)


@pytest.fixture()
def files(tmp_path):
    """Tiny split with text user ids and integer item ids 1..40 (item 40 only in test)."""
    rng = np.random.default_rng(0)
    rows = {"train": [], "valid": [], "test": []}
    for u in range(8):
        items = rng.permutation(np.arange(1, 40))[:7]
        rows["train"] += [(f"u{u:02d}", i, 4, 100 + i) for i in items[:4]]
        rows["valid"] += [(f"u{u:02d}", i, 3, 200 + i) for i in items[4:5]]
        rows["test"] += [(f"u{u:02d}", i, 5, 300 + i) for i in items[5:7]]
    rows["test"].append(("u00", 40, 5, 999))
    header = ["user_id", "item_id", "rating", "timestamp"]
    return {role: write(tmp_path / f"{role}.tsv", header, r) for role, r in rows.items()}


def run_main(capsys, argv):
    code = evaluate.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_popularity_happy_path(files, capsys, tmp_path):
    out_file = tmp_path / "m" / "metrics.json"
    code, out, err = run_main(
        capsys,
        [
            "--model",
            "pop",
            "--train",
            files["train"],
            "--valid",
            files["valid"],
            "--test",
            files["test"],
            "--out",
            str(out_file),
        ],
    )
    assert code == 0, err
    result = json.loads(out)
    assert result == json.loads(out_file.read_text())
    n_items = len(
        {
            line.split("\t")[1]
            for role in files
            for line in open(files[role]).read().splitlines()[1:]
        }
    )
    assert result["n_users"] == 8 and result["n_items"] == n_items and result["n_test"] == 17
    assert 0 <= result["test"]["recall@10"] <= 1 and result["test"]["n_users"] == 8
    assert "item(s) of the test file never occur in the training file" in err  # kept, warned


def test_cli_bpr_happy_path_and_determinism(files, capsys):
    argv = [
        "--model",
        "lightgcn",
        "--train",
        files["train"],
        "--valid",
        files["valid"],
        "--test",
        files["test"],
        "--epochs",
        "3",
        "--seed",
        "1",
        "--quiet",
    ]
    code, out, err = run_main(capsys, argv)
    assert code == 0, err
    a = json.loads(out)
    assert a["model"] == "lightgcn" and a["stopped_epoch"] == 3 and "ndcg@20" in a["test"]
    code, out, _ = run_main(capsys, argv)
    b = json.loads(out)
    assert a["test"] == b["test"]  # same seed, same numbers


def test_cli_subprocess_entry_point(files):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gnnrec_utils.evaluate",
            "--model",
            "pop",
            "--train",
            files["train"],
            "--valid",
            files["valid"],
            "--test",
            files["test"],
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "pop"


def test_ids_are_sorted_numerically_like_notebook_01(tmp_path):
    header = ["user_id", "item_id"]
    tr = write(tmp_path / "tr.csv", header, [(10, 3), (9, 1), (2, 20), (10, 20)], sep=",")
    va = write(tmp_path / "va.csv", header, [(9, 3)], sep=",")
    te = write(tmp_path / "te.csv", header, [(2, 1)], sep=",")
    data = evaluate.load_split_files(tr, va, te, warn=lambda m: None, ks=(1,))
    assert data["user_ids"] == [2, 9, 10] and data["item_ids"] == [1, 3, 20]
    assert data["train"][0].tolist() == [2, 1, 0, 2] and data["train"][1].tolist() == [1, 0, 2, 2]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_column", "missing required column 'item_id'"),
        ("empty", "is empty"),
        ("user_only_in_test", "1 user(s) in the test file are not in the training file"),
        ("non_numeric_rating", "column 'rating' must be numeric; first bad value 'five'"),
        ("duplicate_pair", "occur more than once"),
        ("too_few_items", "needs at least 20 candidate items per user"),
        ("no_file", "does not exist"),
    ],
)
def test_cli_bad_files_get_one_clear_line_and_exit_code_2(case, expected, files, tmp_path, capsys):
    test = files["test"]
    train = files["train"]
    if case == "missing_column":
        train = write(tmp_path / "bad.tsv", ["user_id", "item"], [("u00", 1)])
    elif case == "empty":
        train = str(tmp_path / "empty.csv")
        (tmp_path / "empty.csv").write_text("")
    elif case == "user_only_in_test":
        test = write(tmp_path / "t.tsv", ["user_id", "item_id"], [("u00", 1), ("new", 2)])
    elif case == "non_numeric_rating":
        test = write(tmp_path / "t.tsv", ["user_id", "item_id", "rating"], [("u00", 1, "five")])
    elif case == "duplicate_pair":
        with open(train) as f:
            first = f.read().splitlines()[1].split("\t")
        test = write(tmp_path / "t.tsv", ["user_id", "item_id"], [(first[0], first[1])])
    elif case == "too_few_items":
        train = write(tmp_path / "tr.tsv", ["user_id", "item_id"], [("a", i) for i in range(15)])
        test = write(tmp_path / "te.tsv", ["user_id", "item_id"], [("a", 15)])
        files = {**files, "valid": write(tmp_path / "va.tsv", ["user_id", "item_id"], [("a", 16)])}
    elif case == "no_file":
        test = str(tmp_path / "nope.tsv")
    code, out, err = run_main(
        capsys, ["--model", "pop", "--train", train, "--valid", files["valid"], "--test", test]
    )
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0]
    assert "Traceback" not in err
