"""gnnrec_utils.cli (``gnnrec-evaluate``) and gnnrec_utils.interaction_files: the full-ranking
evaluator against the metrics module, and the command line on tiny files (happy paths, id
mapping, and one clear message per bad file)."""

from __future__ import annotations

from gnnrec_utils import cli, interaction_files, recipes
from gnnrec_utils.metrics import (
    TOP_K_METRICS,
    RankingEvaluator,
    evaluate_ranking,
    full_ranking_metrics,
    rating_errors,
)

import json
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

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
    ev = RankingEvaluator(test, n_users, n_items, exclude=[train, valid])
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
    assert full_ranking_metrics(scores, test, [train, valid]) == want
    with pytest.raises(ValueError, match="excluded"):
        RankingEvaluator(test, n_users, n_items, exclude=[test])


def test_perfect_scores_give_recall_one_when_few_held_out():
    n_users, n_items = 5, 30
    test = (np.arange(5), np.arange(5) * 2)
    scores = np.zeros((n_users, n_items))
    scores[test] = 1.0
    got = full_ranking_metrics(scores, test)
    assert got["recall@10"] == got["ndcg@10"] == got["hit_rate@10"] == got["map@10"] == 1.0


def test_full_ranking_of_movielens_size_is_fast():
    rng = np.random.default_rng(0)
    n_users, n_items = 943, 1682
    u = rng.integers(0, n_users, 90_000)
    i = rng.integers(0, n_items, 90_000)
    key = np.unique(u * n_items + i)
    u, i = key // n_items, key % n_items
    ev = RankingEvaluator(
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
    got = rating_errors([1.0, 2.0, 5.0], [2.0, 2.0, 3.0])
    assert np.isclose(got["rmse"], np.sqrt(5 / 3)) and np.isclose(got["mae"], 1.0)
    with pytest.raises(ValueError):
        rating_errors([], [])


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
    code = cli.main(argv)
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
            "gnnrec_utils.cli",
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
    data = interaction_files.load_split_files(tr, va, te, warn=lambda m: None, ks=(1,))
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


# --------------------------------------------------------------------------------------------
# Batched evaluation (issue 16): identical results, bounded memory, clear refusal
# --------------------------------------------------------------------------------------------


def _random_split(seed, n_users=97, n_items=300, n_pairs=4000, n_train=3000):
    rng = np.random.default_rng(seed)
    cells = rng.permutation(n_users * n_items)[:n_pairs]
    u, i = cells // n_items, cells % n_items
    train, test = (u[:n_train], i[:n_train]), (u[n_train:], i[n_train:])
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    scores[:, :50] = np.round(scores[:, :50])  # many ties
    return train, test, scores


class _Spy:
    """A model that records the batches it is asked for."""

    def __init__(self, scores):
        self.scores, self.batches = scores, []

    def score_all_users(self, users=None):
        rows = np.arange(len(self.scores)) if users is None else np.asarray(users)
        self.batches.append(rows.size)
        return self.scores[rows]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_auc", [False, True], ids=["top-k", "with-auc"])
def test_batched_evaluation_equals_one_shot_exactly(seed, with_auc):
    train, test, scores = _random_split(seed)
    n_users, n_items = scores.shape
    metrics = TOP_K_METRICS + (("auc",) if with_auc else ())
    truth = np.zeros((n_users, n_items), bool)
    truth[test] = True
    ex = np.zeros((n_users, n_items), bool)
    ex[train] = True
    ks = (5, 10, 20)
    want = evaluate_ranking(scores, truth, ex, ks=ks, metrics=metrics)
    want_per_user = evaluate_ranking(scores, truth, ex, ks=ks, metrics=metrics, per_user=True)
    for batch_users in (1, 7, 50, None):
        ev = RankingEvaluator(
            test, n_users, n_items, [train], ks=ks, metrics=metrics, batch_users=batch_users
        )
        assert ev(scores) == want  # exact equality of every value, dense matrix in
        spy = _Spy(scores)
        assert ev(spy) == want  # and a model, scored batch by batch
        assert max(spy.batches) <= (batch_users or n_users) and sum(spy.batches) == ev.users.size
        got = ev(scores, per_user=True)
        assert got.keys() == want_per_user.keys()
        for key, values in want_per_user.items():
            np.testing.assert_array_equal(got[key], values, err_msg=f"{key}, {batch_users}")


def test_evaluator_keeps_masks_sparse_and_ranks_only_users_with_held_out_items():
    train, test, scores = _random_split(0)
    ev = RankingEvaluator(test, *scores.shape, [train])
    assert sp.issparse(ev.truth) and sp.issparse(ev.exclude)
    assert ev.users.tolist() == sorted(set(test[0].tolist()))
    assert ev.exclude.toarray()[train].all()  # notebook 03 reads .exclude like this


def test_evaluation_memory_stays_within_the_batch_budget():
    n_users, n_items, budget = 2000, 4000, 4 * 2**20
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, n_users, 60_000), rng.integers(0, n_items, 60_000)
    key = np.unique(u * n_items + i)
    u, i = key // n_items, key % n_items
    from gnnrec_utils.models import PopularityModel

    model = PopularityModel(n_users, n_items).fit(u[10_000:], i[10_000:])
    ev = RankingEvaluator(
        (u[:10_000], i[:10_000]), n_users, n_items, [(u[10_000:], i[10_000:])],
        max_batch_bytes=budget,
    )  # fmt: skip
    assert ev.batch_users == budget // (n_items * 32)
    tracemalloc.start()
    try:
        ev(model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_shot = n_users * n_items * 17  # scores + masks + evaluate_ranking's ~11 B per entry
    assert peak < 2 * budget < one_shot / 10, (peak, budget, one_shot)


def test_a_catalogue_whose_single_row_cannot_fit_is_refused():
    with pytest.raises(MemoryError, match=r"ranking one user's 100,000 items needs about 3 MiB"):
        RankingEvaluator(([0], [0]), 2, 100_000, max_batch_bytes=2**20)


def test_scores_of_the_wrong_shape_are_named():
    ev = RankingEvaluator(([0, 1], [3, 4]), 2, 30)
    with pytest.raises(ValueError, match=r"scores have shape \(2, 29\), expected"):
        ev(np.zeros((2, 29)))


# --------------------------------------------------------------------------------------------
# Closed-form models in the CLI: EASE and GF-CF
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def larger_files(tmp_path):
    """80 users × 100 items (GF-CF keeps k=64 frequencies: it needs more than 64 of each)."""
    rng = np.random.default_rng(1)
    rows = {"train": [], "valid": [], "test": []}
    for u in range(80):
        items = rng.permutation(100)[:20]
        rows["train"] += [(u, i) for i in items[:14]]
        rows["valid"] += [(u, i) for i in items[14:16]]
        rows["test"] += [(u, i) for i in items[16:20]]
    header = ["user_id", "item_id"]
    return {role: write(tmp_path / f"{role}.csv", header, r, sep=",") for role, r in rows.items()}


@pytest.mark.parametrize("name", ["ease", "gf-cf"])
def test_cli_closed_form_models_match_the_library(name, larger_files, capsys):
    from gnnrec_utils import closed_form

    argv = ["--model", name, "--quiet", "--seed", "3"]
    argv += [f"--{role}={path}" for role, path in larger_files.items()]
    code, out, err = run_main(capsys, argv)
    assert code == 0, err
    result = json.loads(out)
    assert "best_epoch" not in result and result["n_items"] == 100
    data = interaction_files.load_split_files(*larger_files.values(), warn=lambda m: None)
    n_users, n_items = data["n_users"], data["n_items"]
    if name == "ease":
        model = closed_form.EASE(n_users, n_items, **recipes.MODEL_DEFAULTS["ease"]["model"])
    else:
        defaults = recipes.MODEL_DEFAULTS["gf-cf"]["model"]
        model = closed_form.GFCF(n_users, n_items, **defaults, seed=3)
    model.fit(*data["train"])
    test_eval = RankingEvaluator(
        data["test"], n_users, n_items, exclude=[data["train"], data["valid"]]
    )
    assert result["test"] == json.loads(json.dumps(test_eval(model)))
    pop = RankingEvaluator(data["test"], n_users, n_items, exclude=[data["train"], data["valid"]])(
        recipes.build_model("pop", data["train"], n_users, n_items, seed=0)
    )
    assert result["test"]["n_users"] == pop["n_users"] == 80


def test_cli_closed_form_model_warns_that_epochs_do_not_apply(larger_files, capsys):
    argv = ["--model", "ease", "--quiet", "--epochs", "5"]
    argv += [f"--{role}={path}" for role, path in larger_files.items()]
    code, _, err = run_main(capsys, argv)
    assert code == 0 and "--epochs has no effect on --model ease" in err


def test_cli_gfcf_on_too_few_users_is_one_line(files, capsys):
    argv = ["--model", "gf-cf", "--train", files["train"], "--valid", files["valid"]]
    code, out, err = run_main(capsys, argv + ["--test", files["test"]])
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith("error: --model gf-cf keeps k=64 graph frequencies")
    assert "these files have 8 users" in line


def test_cli_help_lists_every_model():
    text = cli._parser().format_help()
    for name in recipes.CLI_MODELS:
        assert name in text
    assert "byte-identical" in text and "--timings" in text


@pytest.mark.parametrize("model", ["gcnmf", "bpr"])
def test_cli_trains_once_and_prints_the_same_json_when_it_loads(
    model, files, capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("GNNREC_MODEL_STORE", str(tmp_path / "store"))
    argv = [
        "--model", model, "--train", files["train"], "--valid", files["valid"],
        "--test", files["test"], "--epochs", "3", "--seed", "5", "--quiet",
    ]  # fmt: skip
    code, first, err1 = run_main(capsys, argv)
    assert code == 0 and "(seed 5): trained in" in err1 and "saved to the store" in err1
    code, second, err2 = run_main(capsys, argv)
    assert code == 0 and "(seed 5): loaded from the store" in err2
    assert first == second  # byte-identical JSON, trained or loaded
    code, third, err3 = run_main(capsys, [*argv, "--no-store"])
    assert code == 0 and "store" not in err3 and third == first  # trained again, same numbers
    code, _, err4 = run_main(capsys, [*argv[:-2], "6", "--quiet"])  # another seed: trained
    assert "(seed 6): trained in" in err4
