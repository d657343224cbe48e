"""gnnrec_utils.experiments: item-kNN, sampled ranking, seeds, significance, groups, case study."""

from __future__ import annotations

from gnnrec_utils import experiments as ev
from gnnrec_utils.constants import GENRES

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

pytestmark = pytest.mark.unit


def _random_interactions(n_users=12, n_items=15, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    R = rng.random((n_users, n_items)) < density
    R[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # nobody is empty
    u, i = np.nonzero(R)
    return u, i, R


# --------------------------------------------------------------------------------------------
# Item-kNN against a plain reference
# --------------------------------------------------------------------------------------------


def _knn_reference(R: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense item-kNN written plainly: cosine, top-k per target item, scores = R S."""
    R = R.astype(float)
    n_users, n_items = R.shape
    cos = np.zeros((n_items, n_items))
    for j in range(n_items):
        for i in range(n_items):
            nj, ni = np.linalg.norm(R[:, j]), np.linalg.norm(R[:, i])
            if j != i and nj > 0 and ni > 0:
                cos[j, i] = R[:, j] @ R[:, i] / (nj * ni)
    S = np.zeros_like(cos)
    for i in range(n_items):
        # neighbours of target item i: largest similarity first, lower index on ties
        cands = sorted((-cos[j, i], j) for j in range(n_items) if cos[j, i] > 0)
        for _, j in cands[:k]:
            S[j, i] = cos[j, i]
    scores = np.zeros((n_users, n_items))
    for u in range(n_users):
        for i in range(n_items):
            scores[u, i] = sum(S[j, i] for j in range(n_items) if R[u, j] > 0)
    return S, scores


@pytest.mark.parametrize("k", [1, 3, 100])
@pytest.mark.parametrize("seed", [0, 1])
def test_item_knn_equals_dense_reference(k, seed):
    u, i, R = _random_interactions(seed=seed)
    model = ev.ItemKNN(*R.shape, k=k).fit(u, i)
    S_ref, scores_ref = _knn_reference(R, k)
    np.testing.assert_allclose(model.S.toarray(), S_ref, atol=1e-12)
    np.testing.assert_allclose(model.score_all_users(), scores_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.score_pairs(u[:5], i[:5]), scores_ref[u[:5], i[:5]], 1e-6)


def test_item_knn_blocks_ties_and_empty_items():
    # items 2 and 3 are identical, item 4 has no interactions
    R = np.array([[1, 1, 1, 1, 0], [0, 1, 1, 1, 0], [1, 0, 0, 0, 0]], dtype=float)
    S_one = ev.item_cosine_similarity(sp.csr_matrix(R), k=1, block=2).toarray()
    S_ref, _ = _knn_reference(R, 1)
    np.testing.assert_allclose(S_one, S_ref)
    assert S_one[:, 4].sum() == 0 and S_one[4].sum() == 0
    assert np.all(np.diag(S_one) == 0)
    # item 1's best neighbours are 2 and 3 (equal similarity): the lower index wins
    assert S_one[2, 1] > 0 and S_one[3, 1] == 0
    assert (np.count_nonzero(ev.item_cosine_similarity(R, k=2).toarray(), axis=0) <= 2).all()


def test_item_knn_explain_sums_to_score():
    u, i, R = _random_interactions(seed=3)
    model = ev.ItemKNN(*R.shape, k=4).fit(u, i)
    scores = model.score_all_users()
    for user, item in [(0, 1), (5, 7), (11, 14)]:
        e = model.explain(user, item)
        assert np.isclose(e["score"], scores[user, item], atol=1e-6)
        assert np.isclose(e["past_item_contrib"].sum(), e["score"])
        assert set(e["past_items"]) == set(np.flatnonzero(R[user]))


# --------------------------------------------------------------------------------------------
# Sampled ranking
# --------------------------------------------------------------------------------------------


def _split(seed=0, n_users=30, n_items=200):
    rng = np.random.default_rng(seed)
    train, test = [], []
    for user in range(n_users):
        items = rng.choice(n_items, size=12, replace=False)
        train += [(user, it) for it in items[:8]]
        test += [(user, it) for it in items[8:]]
    tr = tuple(np.array(x) for x in zip(*train, strict=True))
    te = tuple(np.array(x) for x in zip(*test, strict=True))
    return tr, te, n_users, n_items


def test_sampled_negatives_are_unknown_distinct_and_seeded():
    tr, te, n_users, n_items = _split()
    neg = ev.sample_negatives([tr, te], n_users, n_items, 100, seed=7)
    assert neg.shape == (n_users, 100)
    known = {(u, i) for u, i in zip(*tr, strict=True)} | {(u, i) for u, i in zip(*te, strict=True)}
    assert not any((u, int(j)) in known for u in range(n_users) for j in neg[u])
    assert all(np.unique(row).size == 100 for row in neg)
    np.testing.assert_array_equal(neg, ev.sample_negatives([tr, te], n_users, n_items, 100, 7))
    assert not np.array_equal(neg, ev.sample_negatives([tr, te], n_users, n_items, 100, 8))
    with pytest.raises(ValueError, match="fewer than"):
        ev.sample_negatives([tr, te], n_users, n_items, 190, seed=0)


def test_sampled_ranking_perfect_and_worst_scorers():
    tr, te, n_users, n_items = _split()
    neg = ev.sample_negatives([tr, te], n_users, n_items, 100, seed=0)
    perfect = np.zeros((n_users, n_items))
    perfect[te] = 1.0
    out = ev.sampled_ranking_metrics(perfect, te, neg, ks=(1, 10))
    assert out["hit_rate@1"] == out["ndcg@10"] == out["auc"] == 1.0
    assert out["n_pairs"] == te[0].size and out["n_users"] == n_users
    worst = -perfect
    ranks = ev.sampled_ranks(worst, *te, neg)
    # every negative ties at 0 and beats -1: the positive is last, rank m + 1
    assert (ranks == 101).all()
    assert ev.sampled_ranking_metrics(worst, te, neg, ks=10)["auc"] == 0.0


def test_sampled_ranks_by_hand_and_ties():
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5]])
    neg = np.array([[1, 2, 3, 4]])
    # positive item 2 (0.5): item 1 (0.9) above; item 4 ties but has a higher index → below
    assert ev.sampled_ranks(scores, [0], [2], neg)[0] == 2
    # positive item 0 (0.5) against negatives 1..4: 0.9 above, ties 2 and 4 have higher ids
    assert ev.sampled_ranks(scores, [0], [0], neg)[0] == 2
    neg2 = np.array([[0, 1, 3, 4]])
    assert ev.sampled_ranks(scores, [0], [2], neg2)[0] == 3  # 0.9 and item 0 (tie, lower id)
    out = ev.sampled_ranking_metrics(scores, ([0], [2]), neg, ks=(1, 2))
    assert out["hit_rate@1"] == 0.0 and out["hit_rate@2"] == 1.0
    assert np.isclose(out["ndcg@2"], 1 / np.log2(3))
    assert np.isclose(out["auc"], (4 + 1 - 2) / 4)


def test_sampled_metrics_average_over_users_or_pairs():
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    neg = np.array([[3], [0]])
    truth = (np.array([0, 0, 1]), np.array([0, 2, 1]))  # user 0: two hits; user 1: one hit
    user_avg = ev.sampled_ranking_metrics(scores, truth, neg, ks=1, average="user")
    pair_avg = ev.sampled_ranking_metrics(scores, truth, neg, ks=1, average="pair")
    assert user_avg["hit_rate@1"] == pair_avg["hit_rate@1"] == 1.0
    scores[1, 1] = -1.0  # user 1's positive now loses to its negative
    user_avg = ev.sampled_ranking_metrics(scores, truth, neg, ks=1, average="user")
    pair_avg = ev.sampled_ranking_metrics(scores, truth, neg, ks=1, average="pair")
    assert user_avg["hit_rate@1"] == 0.5 and np.isclose(pair_avg["hit_rate@1"], 2 / 3)


def test_sampled_metrics_per_user_arrays_average_to_the_user_mean():
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, -1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    neg = np.array([[3], [0], [1]])
    truth = (np.array([0, 0, 1]), np.array([0, 2, 1]))  # user 2 has no test positive
    per = ev.sampled_ranking_metrics(scores, truth, neg, ks=1, per_user=True)
    np.testing.assert_array_equal(per["hit_rate@1"], [1.0, 0.0, np.nan])
    mean = ev.sampled_ranking_metrics(scores, truth, neg, ks=1)
    for key in ("hit_rate@1", "ndcg@1", "auc"):
        assert np.isclose(np.nanmean(per[key]), mean[key])
    with pytest.raises(ValueError, match="per_user"):
        ev.sampled_ranking_metrics(scores, truth, neg, ks=1, average="pair", per_user=True)


# --------------------------------------------------------------------------------------------
# Comparison evaluator and the multi-seed runner
# --------------------------------------------------------------------------------------------


def _evaluator(tr, te, n_users, n_items, users=None):
    pop = np.bincount(tr[1], minlength=n_items)
    feats = np.random.default_rng(0).random((n_items, 4)) < 0.4
    return ev.ComparisonEvaluator(
        te,
        n_users,
        n_items,
        exclude=[tr],
        item_popularity=pop,
        item_features=feats,
        users=users,
    )


def test_comparison_evaluator_perfect_scores_and_user_subset():
    tr, te, n_users, n_items = _split()
    evaluator = _evaluator(tr, te, n_users, n_items)
    perfect = np.zeros((n_users, n_items))
    perfect[te] = 1.0
    out = evaluator(perfect)
    assert out["ndcg@10"] == 1.0 and out["recall@10"] == 1.0 and out["n_users"] == n_users
    for key in ev.BEYOND_ACCURACY:
        assert np.isfinite(out[key])
    sub = _evaluator(tr, te, n_users, n_items, users=[0, 3, 5])
    per_user = sub(perfect, per_user=True)
    assert per_user["n_users"] == 3
    assert np.isnan(per_user["ndcg@20"]).sum() == n_users - 3
    assert sub.top_k(perfect, 4).shape == (3, 4)
    with pytest.raises(ValueError, match="overlap"):
        ev.ComparisonEvaluator(te, n_users, n_items, exclude=[te])


class _Fixed:
    """A 'model' whose scores depend on the seed (noise) or not."""

    def __init__(self, base, noise, seed):
        rng = np.random.default_rng(seed)
        self.s = base + noise * rng.standard_normal(base.shape)

    def score_all_users(self):
        return self.s


def test_run_seeds_tidy_table_and_summary():
    tr, te, n_users, n_items = _split()
    evaluator = _evaluator(tr, te, n_users, n_items)
    base = np.zeros((n_users, n_items))
    base[te] = 1.0
    seen = []
    table = ev.run_seeds(
        {
            "noisy": lambda seed: _Fixed(base, 1.0, seed),
            "pop": lambda seed: np.tile(np.bincount(tr[1], minlength=n_items), (n_users, 1)),
        },
        seeds=[0, 1, 2],
        evaluate=evaluator,
        deterministic=["pop"],
        on_result=lambda name, seed, obj, scores: seen.append((name, seed)),
    )
    assert list(table.columns) == ["model", "seed", "metric", "value"]
    assert seen == [("noisy", 0), ("noisy", 1), ("noisy", 2), ("pop", 0)]
    assert set(table["metric"]) >= {"ndcg@20", "coverage", "fit_seconds", "fit_cpu_seconds"}
    assert table.groupby("model")["seed"].nunique().to_dict() == {"noisy": 3, "pop": 1}
    summary = ev.summarise_runs(table, metrics=["ndcg@20", "coverage"])
    assert list(summary.index) == ["noisy", "pop"]
    noisy = table[(table.model == "noisy") & (table.metric == "ndcg@20")]["value"]
    assert np.isclose(summary.loc["noisy", ("ndcg@20", "mean")], noisy.mean())
    assert np.isclose(summary.loc["noisy", ("ndcg@20", "std")], noisy.std(ddof=1))
    assert summary.loc["pop", ("ndcg@20", "std")] == 0.0
    assert summary.loc["pop", ("n_runs", "")] == 1
    text = ev.format_mean_std(summary, ["ndcg@20"])
    assert text.loc["pop", "ndcg@20"].endswith("± 0.0000")
    cache, calls = {}, []

    def factory(seed):
        calls.append(seed)
        return _Fixed(base, 1.0, seed)

    ev.fit_cached(cache, "noisy", 0, factory)
    again = ev.run_seeds({"noisy": factory}, [0, 1], evaluator, cache=cache)
    assert calls == [0, 1] and set(cache) == {("noisy", 0), ("noisy", 1)}
    first = table[(table.model == "noisy") & (table.seed == 0)].set_index("metric")["value"]
    second = again[again.seed == 0].set_index("metric")["value"]
    assert first["ndcg@20"] == second["ndcg@20"]
    with pytest.raises(ValueError, match="deterministic"):
        ev.run_seeds({"a": lambda s: base}, [0], evaluator, deterministic=["b"])


# --------------------------------------------------------------------------------------------
# Paired significance and the bootstrap CI
# --------------------------------------------------------------------------------------------


def test_bootstrap_ci_covers_true_mean_difference():
    rng = np.random.default_rng(1)
    true_diff = 0.03
    covered = 0
    n_rep = 200
    for rep in range(n_rep):
        b = rng.random(200)
        a = b + true_diff + 0.1 * rng.standard_normal(200)
        out = ev.paired_comparison(a, b, n_bootstrap=400, seed=rep)
        assert out["ci_low"] <= out["mean_diff"] <= out["ci_high"]
        covered += out["ci_low"] <= true_diff <= out["ci_high"]
    # nominal 95 %: a binomial(200, 0.95) count lies in [180, 197] with probability > 0.99
    assert 180 <= covered <= 198, covered


def test_paired_tests_detect_a_planted_difference_and_not_a_null_one():
    rng = np.random.default_rng(2)
    b = rng.random(500)
    a = b + 0.02 + 0.05 * rng.standard_normal(500)
    out = ev.paired_comparison(a, b, seed=0)
    assert out["t_pvalue"] < 1e-6 and out["wilcoxon_pvalue"] < 1e-6
    assert out["ci_low"] > 0 and out["mean_diff"] > 0 and out["n"] == 500
    # no difference: each test rejects at the 5 % level in about 5 % of replicates
    rejected = {"t": 0, "wilcoxon": 0, "ci": 0}
    for rep in range(200):
        noise = 0.05 * rng.standard_normal(500)
        null = ev.paired_comparison(b + noise, b, n_bootstrap=200, seed=rep)
        rejected["t"] += null["t_pvalue"] < 0.05
        rejected["wilcoxon"] += null["wilcoxon_pvalue"] < 0.05
        rejected["ci"] += not null["ci_low"] < 0 < null["ci_high"]
    # binomial(200, 0.05): mean 10, and [2, 22] holds it with probability > 0.999
    assert all(2 <= n <= 22 for n in rejected.values()), rejected


def test_paired_comparison_is_seeded_drops_nan_and_handles_ties():
    rng = np.random.default_rng(3)
    a, b = rng.random(100), rng.random(100)
    a[:5] = np.nan
    one = ev.paired_comparison(a, b, n_bootstrap=500, seed=4)
    assert one == ev.paired_comparison(a, b, n_bootstrap=500, seed=4)
    assert one["n"] == 95
    same = ev.paired_comparison(b, b, n_bootstrap=100)
    assert same["mean_diff"] == same["ci_low"] == same["ci_high"] == 0.0
    assert same["wilcoxon_pvalue"] == 1.0 and same["t_pvalue"] == 1.0
    with pytest.raises(ValueError):
        ev.paired_comparison(a[:3], b)


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("edges", [None, (5, 20)])
def test_activity_groups_cover_every_user_exactly_once(edges):
    rng = np.random.default_rng(0)
    n_users = 97
    train_users = rng.integers(0, n_users - 3, size=2000)  # the last 3 users have no history
    labels, (c1, c2) = ev.activity_groups(train_users, n_users, edges=edges)
    assert labels.shape == (n_users,)
    assert set(labels) <= {"cold", "medium", "heavy"}
    counts = {g: int((labels == g).sum()) for g in ("cold", "medium", "heavy")}
    assert sum(counts.values()) == n_users  # each user in exactly one group
    deg = np.bincount(train_users, minlength=n_users)
    assert (deg[labels == "cold"] <= c1).all() and (deg[labels == "heavy"] > c2).all()
    assert ((deg[labels == "medium"] > c1) & (deg[labels == "medium"] <= c2)).all()
    assert (labels[-3:] == "cold").all()
    if edges is None:
        assert all(abs(n - n_users / 3) <= 8 for n in counts.values()), counts


def test_popularity_groups_split_interactions_in_thirds():
    rng = np.random.default_rng(0)
    n_items = 300
    train_items = np.minimum(rng.zipf(1.5, size=5000) - 1, n_items - 11)  # last 10 unseen
    labels, (c1, c2) = ev.popularity_groups(train_items, n_items)
    assert len(labels) == n_items and set(labels) == {"head", "mid", "tail"}
    counts = np.bincount(train_items, minlength=n_items)
    assert counts[labels == "head"].min() >= counts[labels == "mid"].max()
    assert counts[labels == "mid"].min() >= counts[labels == "tail"].max()
    mass = {g: counts[labels == g].sum() / counts.sum() for g in ("head", "mid", "tail")}
    assert mass["head"] >= 1 / 3 and mass["head"] + mass["mid"] >= 2 / 3
    assert (labels[-10:] == "tail").all()
    assert (labels == "head").sum() == c1 and (labels != "tail").sum() == c2


def test_group_means_and_item_group_metrics():
    per_user = {"ndcg@20": np.array([1.0, 0.0, np.nan, 0.5]), "n_users": 3}
    out = ev.group_means(per_user, np.array(["a", "a", "b", "b"], dtype=object))
    assert out.loc["a", "ndcg@20"] == 0.5 and out.loc["b", "ndcg@20"] == 0.5
    assert out["n_users"].to_dict() == {"a": 2, "b": 1}

    tr, te, n_users, n_items = _split()
    evaluator = _evaluator(tr, te, n_users, n_items)
    perfect = np.zeros((n_users, n_items))
    perfect[te] = 1.0
    labels, _ = ev.popularity_groups(tr[1], n_items)
    table = ev.item_group_metrics(perfect, evaluator, labels, k=4, order=["head", "mid", "tail"])
    assert np.allclose(table["recall@4"].dropna(), 1.0)
    assert np.isclose(table["exposure"].sum(), 1.0) and np.isclose(table["test_share"].sum(), 1)
    assert table["n_items"].sum() == n_items


# --------------------------------------------------------------------------------------------
# Case-study helpers
# --------------------------------------------------------------------------------------------


def _items_table(n_items):
    rng = np.random.default_rng(0)
    flags = (rng.random((n_items, len(GENRES))) < 0.15).astype(int)
    table = pd.DataFrame(flags, columns=list(GENRES))
    table.insert(0, "title", [f"Film {k}" for k in range(n_items)])
    return table


def test_case_study_tables():
    u, i, R = _random_interactions(n_users=6, n_items=12, seed=5)
    items = _items_table(12)
    ratings = np.arange(u.size) % 5 + 1.0
    hist = ev.user_history(2, u, i, items, ratings=ratings)
    assert set(hist["item_idx"]) == set(np.flatnonzero(R[2]))
    assert list(hist["rating"]) == sorted(hist["rating"], reverse=True)
    row = hist.iloc[0]
    flags = items.loc[row["item_idx"], list(GENRES)].to_numpy() != 0
    assert row["genres"] == "|".join(np.array(GENRES)[flags])
    assert row["title"] == f"Film {row['item_idx']}"

    model = ev.ItemKNN(6, 12, k=5).fit(u, i)
    scores = model.score_all_users()
    seen = np.flatnonzero(R[2])
    top = ev.top_k_table(scores[2], items, k=3, exclude_items=seen, item_popularity=R.sum(0))
    assert list(top["rank"]) == [1, 2, 3] and not set(top["item_idx"]) & set(seen)
    assert (np.diff(top["score"]) <= 0).all()
    why = ev.why_recommended(model, 2, int(top["item_idx"][0]), items, top=2)
    assert len(why) <= 2 and set(why["item_idx"]) <= set(seen)
    assert (np.diff(why["contribution"]) <= 0).all()
    assert ev.why_recommended(object(), 0, 0, items) is None


def test_mean_sd_is_the_one_spelling():
    assert ev.format_mean_sd(0.38124, 0.0041) == "0.3812 ± 0.0041"
    assert ev.mean_sd([1.0, 2.0, 3.0], digits=2) == "2.00 ± 1.00"  # ddof=1
    assert ev.mean_sd([0.5, np.nan]) == "0.5000 ± 0.0000"  # one value: sd 0
    with pytest.raises(ValueError, match="at least one"):
        ev.mean_sd([np.nan])
