"""Exercise checks of notebook 06 accept right answers and explain typical wrong ones."""

from __future__ import annotations

from gnnrec_utils import exercises, metrics
from gnnrec_utils import experiments as ev

import numpy as np
import pytest

pytestmark = pytest.mark.unit

# Exercise 6.1: sampled metrics with more negatives ------------------------------------------


@pytest.fixture(scope="module")
def sampled_setup():
    rng = np.random.default_rng(0)
    n_users, n_items = 6, 40
    users = np.repeat(np.arange(n_users), 8)
    items = np.concatenate([rng.choice(n_items, 8, replace=False) for _ in range(n_users)])
    train = (users[::2], items[::2])
    # users hold 1 to 4 test items, so the pair mean differs from the user mean
    keep = np.concatenate([np.arange(u * 8 + 1, u * 8 + 8, 2)[: 1 + u % 4] for u in range(6)])
    test = (users[keep], items[keep])
    known = [train, test]
    scores = {
        "A": rng.normal(size=(n_users, n_items)).astype(np.float32),
        "B": np.round(rng.normal(size=(n_users, n_items)), 1),  # ties broken by item index
    }
    negatives = ev.sample_negatives(known, n_users, n_items, 10, seed=1)
    return scores, test, known, negatives


def _sampled(scores, test, negatives, key="ndcg@3", average="user"):
    return {
        name: ev.sampled_ranking_metrics(s, test, negatives, ks=(3,), average=average)[key]
        for name, s in scores.items()
    }


def _check_sampled(setup, negatives, answer):
    scores, test, known, _ = setup
    return exercises.check_sampled_negatives(
        negatives, answer, scores, test, known, n_negatives=10, k=3
    )


def test_sampled_negatives_right(sampled_setup, capsys):
    scores, test, _, negatives = sampled_setup
    assert _check_sampled(sampled_setup, negatives, _sampled(scores, test, negatives))
    assert "✓ Exercise 6.1" in capsys.readouterr().out


def test_sampled_negatives_wrong_count_is_explained(sampled_setup):
    scores, test, known, _ = sampled_setup
    five = ev.sample_negatives(known, 6, 40, 5, seed=1)
    with pytest.raises(exercises.ExerciseFeedback, match="n_negatives=10"):
        _check_sampled(sampled_setup, five, _sampled(scores, test, five))


def test_sampled_negatives_duplicates_are_explained(sampled_setup):
    scores, test, _, negatives = sampled_setup
    dup = negatives.copy()
    dup[0, 1] = dup[0, 0]
    with pytest.raises(exercises.ExerciseFeedback, match="without replacement"):
        _check_sampled(sampled_setup, dup, _sampled(scores, test, negatives))


def test_sampled_negatives_test_items_are_explained(sampled_setup):
    scores, test, known, _ = sampled_setup
    train_only = ev.sample_negatives(known[:1], 6, 40, 10, seed=1)
    assert np.isin(test[1][test[0] == 0], train_only[0]).any() or any(
        np.isin(test[1][test[0] == u], train_only[u]).any() for u in range(6)
    )
    with pytest.raises(exercises.ExerciseFeedback, match="held-out test items"):
        _check_sampled(sampled_setup, train_only, _sampled(scores, test, train_only))


def test_sampled_negatives_training_items_are_explained(sampled_setup):
    scores, test, known, negatives = sampled_setup
    bad = negatives.copy()
    bad[2, 0] = known[0][1][known[0][0] == 2][0]
    with pytest.raises(exercises.ExerciseFeedback, match="training or validation"):
        _check_sampled(sampled_setup, bad, _sampled(scores, test, negatives))


@pytest.mark.parametrize(
    ("key", "average", "message"),
    [("hit_rate@3", "user", "hit rate"), ("ndcg@3", "pair", "over users")],
)
def test_sampled_negatives_wrong_average_is_explained(sampled_setup, key, average, message):
    scores, test, _, negatives = sampled_setup
    answer = _sampled(scores, test, negatives, key, average)
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        _check_sampled(sampled_setup, negatives, answer)


def test_sampled_negatives_old_negatives_are_explained(sampled_setup):
    scores, test, known, negatives = sampled_setup
    other = ev.sample_negatives(known, 6, 40, 10, seed=7)
    with pytest.raises(exercises.ExerciseFeedback, match="new negatives"):
        _check_sampled(sampled_setup, negatives, _sampled(scores, test, other))


def test_sampled_negatives_missing_model(sampled_setup):
    scores, test, _, negatives = sampled_setup
    answer = _sampled(scores, test, negatives)
    answer.pop("B")
    with pytest.raises(exercises.ExerciseFeedback, match="one value per model"):
        _check_sampled(sampled_setup, negatives, answer)


# Exercise 6.2: intra-list diversity ---------------------------------------------------------


@pytest.fixture(scope="module")
def lists():
    rng = np.random.default_rng(3)
    features = (rng.random((30, 6)) < 0.3).astype(float)
    features[0] = 0.0  # one item without genres
    rec = np.array([rng.choice(30, 5, replace=False) for _ in range(12)])
    return rec, features


def _ild_loop(rec, f):
    out = []
    for row in rec:
        k, total = len(row), 0.0
        for a in range(k):
            for b in range(a + 1, k):
                x, y = f[row[a]], f[row[b]]
                norm = np.linalg.norm(x) * np.linalg.norm(y)
                total += 1 - (x @ y / norm if norm > 0 else 0.0)
        out.append(total / (k * (k - 1) / 2))
    return np.array(out)


@pytest.mark.parametrize(
    "fn",
    [_ild_loop, lambda r, f: metrics.intra_list_diversity(r, f, per_user=True)],
    ids=["plain loop", "library"],
)
def test_ild_right(lists, fn, capsys):
    assert exercises.check_intra_list_diversity(fn, *lists)
    assert "✓ Exercise 6.2" in capsys.readouterr().out


def _unit(f):
    n = np.linalg.norm(f, axis=1, keepdims=True)
    return np.divide(f, n, out=np.zeros_like(f), where=n > 0)


def _pairs_sum(rec, g):
    e = g[rec]
    gram = e @ e.transpose(0, 2, 1)
    k = rec.shape[1]
    return gram, k


def _with_self(rec, f):
    gram, k = _pairs_sum(rec, _unit(np.asarray(f, float)))
    return 1 - gram.sum(axis=(1, 2)) / k**2


def _over_k2(rec, f):
    gram, k = _pairs_sum(rec, _unit(np.asarray(f, float)))
    upper = np.triu(np.ones((k, k)), 1)
    return ((1 - gram) * upper).sum(axis=(1, 2)) / k**2


def _raw_dot(rec, f):
    gram, k = _pairs_sum(rec, np.asarray(f, float))
    upper = np.triu(np.ones((k, k)), 1)
    return ((1 - gram) * upper).sum(axis=(1, 2)) / (k * (k - 1) / 2)


def _jaccard(rec, f):
    f = np.asarray(f, float)
    out = []
    for row in rec:
        k, total = len(row), 0.0
        for a in range(k):
            for b in range(a + 1, k):
                x, y = f[row[a]], f[row[b]]
                union = np.maximum(x, y).sum()
                total += 1 - (np.minimum(x, y).sum() / union if union else 0.0)
        out.append(total / (k * (k - 1) / 2))
    return np.array(out)


def _nan_on_zero(rec, f):
    f = np.asarray(f, float)
    out = []
    for row in rec:
        k, total = len(row), 0.0
        for a in range(k):
            for b in range(a + 1, k):
                x, y = f[row[a]], f[row[b]]
                with np.errstate(all="ignore"):
                    total += 1 - np.float64(x @ y) / (np.linalg.norm(x) * np.linalg.norm(y))
        out.append(total / (k * (k - 1) / 2))
    return np.array(out)


def _raises_on_zero(rec, f):
    f = np.asarray(f, float)
    if (np.linalg.norm(f[np.asarray(rec)], axis=-1) == 0).any():
        raise ZeroDivisionError("float division by zero")
    return _ild_loop(rec, f)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda r, f: 1 - _ild_loop(r, np.asarray(f, float)), "similarity"),
        (_with_self, "with itself"),
        (_over_k2, "divided by K²"),
        (_raw_dot, "raw dot product"),
        (_jaccard, "Jaccard"),
        (lambda r, f: float(_ild_loop(r, np.asarray(f, float)).mean()), "one value per list"),
        (lambda r, f: _ild_loop(r, np.asarray(f, float)) * 0.9, "expected"),
        (_nan_on_zero, "NaN"),
        (_raises_on_zero, "raises ZeroDivisionError"),
    ],
    ids=["similarity", "self", "k2", "raw", "jaccard", "scalar", "off", "nan", "raises"],
)
def test_ild_mistakes_are_named(lists, fn, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_intra_list_diversity(fn, *lists)


# Exercise 6.3: a third paired test ----------------------------------------------------------


@pytest.fixture(scope="module")
def paired_runs():
    rng = np.random.default_rng(5)
    base = rng.random(300)
    runs_a = [np.clip(base + 0.03 + rng.normal(0, 0.05, 300), 0, 1) for _ in range(3)]
    runs_b = [np.clip(base + rng.normal(0, 0.05, 300), 0, 1) for _ in range(3)]
    runs_a[1][7] = np.nan  # a user without a value in one run
    return runs_a, runs_b


def _cmp(runs_a, runs_b):
    return ev.paired_comparison(
        np.mean(runs_a, axis=0), np.mean(runs_b, axis=0), n_bootstrap=2000, seed=0
    )


def test_paired_difference_right(paired_runs, capsys):
    res = _cmp(*paired_runs)
    excludes = res["ci_low"] > 0 or res["ci_high"] < 0
    assert exercises.check_paired_difference(res, *paired_runs, excludes)
    assert "✓ Exercise 6.3" in capsys.readouterr().out


def test_paired_difference_one_seed_passes():
    rng = np.random.default_rng(2)
    a, b = rng.random(100), rng.random(100)
    res = ev.paired_comparison(a, b, n_bootstrap=2000, seed=0)
    excl = res["ci_low"] > 0 or res["ci_high"] < 0
    assert exercises.check_paired_difference(res, [a], [b], excl)


def test_paired_difference_swapped_is_explained(paired_runs):
    runs_a, runs_b = paired_runs
    with pytest.raises(exercises.ExerciseFeedback, match="sign is reversed"):
        exercises.check_paired_difference(_cmp(runs_b, runs_a), runs_a, runs_b, True)


def test_paired_difference_single_seed_is_explained(paired_runs):
    runs_a, runs_b = paired_runs
    res = ev.paired_comparison(runs_a[0], runs_b[0], n_bootstrap=2000, seed=0)
    with pytest.raises(exercises.ExerciseFeedback, match="one seed"):
        exercises.check_paired_difference(res, runs_a, runs_b, True)


def test_paired_difference_ci_of_differences_is_explained(paired_runs):
    runs_a, runs_b = paired_runs
    res = dict(_cmp(runs_a, runs_b))
    a, b = np.mean(runs_a, axis=0), np.mean(runs_b, axis=0)
    d = (a - b)[~np.isnan(a - b)]
    res["ci_low"], res["ci_high"] = np.quantile(d, [0.025, 0.975])
    with pytest.raises(exercises.ExerciseFeedback, match="resampled users"):
        exercises.check_paired_difference(res, runs_a, runs_b, False)


def test_paired_difference_wrong_verdict_is_explained(paired_runs):
    res = _cmp(*paired_runs)
    assert res["ci_low"] > 0
    with pytest.raises(exercises.ExerciseFeedback, match="excludes 0"):
        exercises.check_paired_difference(res, *paired_runs, False)


def test_paired_difference_not_a_dict(paired_runs):
    with pytest.raises(exercises.ExerciseFeedback, match="ev.paired_comparison"):
        exercises.check_paired_difference(0.03, *paired_runs, True)


# Exercise 6.4: fixed activity cut-offs ------------------------------------------------------


@pytest.fixture(scope="module")
def activity():
    degrees = np.array([10, 29, 30, 31, 50, 99, 100, 101, 200, 30, 100, 15])
    train_users = np.repeat(np.arange(degrees.size), degrees)
    rng = np.random.default_rng(4)
    b = rng.uniform(0.2, 0.5, degrees.size)
    a = b + rng.uniform(0.0, 0.1, degrees.size)
    return train_users, a, b


def _gain(groups, a, b, how="right"):
    out = {}
    for g in ("cold", "medium", "heavy"):
        m = groups == g
        ma, mb = a[m].mean(), b[m].mean()
        out[g] = {
            "right": (ma - mb) / mb,
            "absolute": ma - mb,
            "over_a": (ma - mb) / ma,
            "ratios": ((a[m] - b[m]) / b[m]).mean(),
        }[how]
    return out


def test_fixed_groups_right(activity, capsys):
    train_users, a, b = activity
    groups, _ = ev.activity_groups(train_users, a.size, edges=(30, 100))
    assert exercises.check_fixed_activity_groups(groups, _gain(groups, a, b), train_users, a, b)
    assert "✓ Exercise 6.4" in capsys.readouterr().out


def test_fixed_groups_strict_edges_are_explained(activity):
    train_users, a, b = activity
    d = np.bincount(train_users)
    strict = np.where(d < 30, "cold", np.where(d < 100, "medium", "heavy")).astype(object)
    with pytest.raises(exercises.ExerciseFeedback, match="lower group"):
        exercises.check_fixed_activity_groups(strict, _gain(strict, a, b), train_users, a, b)


def test_fixed_groups_terciles_are_explained(activity):
    train_users, a, b = activity
    terciles, _ = ev.activity_groups(train_users, a.size)
    with pytest.raises(exercises.ExerciseFeedback, match="edges="):
        exercises.check_fixed_activity_groups(terciles, _gain(terciles, a, b), train_users, a, b)


def test_fixed_groups_wrong_degrees_are_explained(activity):
    train_users, a, b = activity
    more = np.r_[train_users, train_users[::2]]  # validation and test counted too (x1.5)
    groups, _ = ev.activity_groups(more, a.size, edges=(30, 100))
    with pytest.raises(exercises.ExerciseFeedback, match="training interactions only"):
        exercises.check_fixed_activity_groups(groups, _gain(groups, a, b), train_users, a, b)


@pytest.mark.parametrize(
    ("how", "message"),
    [("absolute", "absolute"), ("over_a", "relative to LightGCN"), ("ratios", "per-user ratios")],
)
def test_fixed_groups_wrong_gain_is_explained(activity, how, message):
    train_users, a, b = activity
    groups, _ = ev.activity_groups(train_users, a.size, edges=(30, 100))
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_fixed_activity_groups(groups, _gain(groups, a, b, how), train_users, a, b)


def test_fixed_groups_missing_group(activity):
    train_users, a, b = activity
    groups, _ = ev.activity_groups(train_users, a.size, edges=(30, 100))
    gain = _gain(groups, a, b)
    gain.pop("heavy")
    with pytest.raises(exercises.ExerciseFeedback, match="one entry per group"):
        exercises.check_fixed_activity_groups(groups, gain, train_users, a, b)
