"""gnnrec_utils.metrics: limit cases, the empty-ground-truth policy, errors, and property tests
against slow reference implementations written straight from the textbook definitions."""

from __future__ import annotations

from gnnrec_utils import metrics as M

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

pytestmark = pytest.mark.unit

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = 1e-9
ACCURACY = {
    "precision": M.precision_at_k,
    "recall": M.recall_at_k,
    "ndcg": M.ndcg_at_k,
    "hit_rate": M.hit_rate_at_k,
    "mrr": M.mrr_at_k,
    "map": M.map_at_k,
}


# --------------------------------------------------------------------------------------------
# Slow references: Python loops over users and ranks, straight from the definitions
# --------------------------------------------------------------------------------------------


def ref_ranking(scores_row, excluded_row):
    """All candidate items, best first; equal scores: lower item id first."""
    candidates = [i for i in range(len(scores_row)) if not excluded_row[i]]
    return sorted(candidates, key=lambda i: (-scores_row[i], i))


def ref_accuracy(name, ranking, relevant, k):
    """One user's metric at k; None when the user has no relevant item."""
    if not relevant:
        return None
    top = ranking[:k]
    rel = [1 if item in relevant else 0 for item in top]
    if name == "precision":
        return sum(rel) / k
    if name == "recall":
        return sum(rel) / len(relevant)
    if name == "ndcg":
        dcg = sum(rel[r - 1] / math.log2(r + 1) for r in range(1, k + 1))
        idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))
        return dcg / idcg
    if name == "hit_rate":
        return 1.0 if any(rel) else 0.0
    if name == "mrr":
        for r in range(1, k + 1):
            if rel[r - 1]:
                return 1.0 / r
        return 0.0
    if name == "map":
        total = 0.0
        for r in range(1, k + 1):
            if rel[r - 1]:
                total += sum(rel[:r]) / r
        return total / min(len(relevant), k)
    raise AssertionError(name)


def ref_auc(scores_row, relevant, excluded_row):
    negatives = [j for j in range(len(scores_row)) if j not in relevant and not excluded_row[j]]
    if not relevant or not negatives:
        return None
    right = 0.0
    for i in relevant:
        for j in negatives:
            if scores_row[i] > scores_row[j]:
                right += 1.0
            elif scores_row[i] == scores_row[j]:
                right += 0.5
    return right / (len(relevant) * len(negatives))


def ref_user_values(name, scores, truth, exclude, k=None):
    out = []
    for u in range(scores.shape[0]):
        relevant = {i for i in range(scores.shape[1]) if truth[u, i]}
        if name == "auc":
            out.append(ref_auc(list(scores[u]), relevant, list(exclude[u])))
        else:
            ranking = ref_ranking(list(scores[u]), list(exclude[u]))
            out.append(ref_accuracy(name, ranking, relevant, k))
    return out


def ref_mean(values):
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def ref_gini(x):
    n, total = len(x), sum(x)
    if total == 0:
        return 0.0
    return sum(abs(a - b) for a in x for b in x) / (2 * n * total)


def ref_cosine(a, b):
    na = math.sqrt(sum(v * v for v in a))
    nb = math.sqrt(sum(v * v for v in b))
    if na == 0 or nb == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)


def assert_user_values(got, want):
    assert got.shape == (len(want),)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert np.isnan(g)
        else:
            assert abs(g - w) <= TOL, (g, w)


def assert_mean(got, want):
    if want is None:
        assert np.isnan(got)
    else:
        assert abs(got - want) <= TOL, (got, want)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

# Few distinct values make ties common; -inf checks that masked items still never appear.
SCORE = st.one_of(
    st.integers(-2, 2).map(float),
    st.floats(-5, 5, allow_nan=False, allow_infinity=False),
    st.just(-np.inf),
)


@st.composite
def ranking_problems(draw):
    """(scores, truth, exclude, k): exclude disjoint from truth, >= k candidates per user."""
    n_users = draw(st.integers(1, 5))
    n_items = draw(st.integers(2, 10))
    shape = (n_users, n_items)
    scores = draw(arrays(np.float64, shape, elements=SCORE))
    truth = draw(arrays(np.bool_, shape))
    exclude = draw(arrays(np.bool_, shape)) & ~truth
    k = draw(st.integers(1, n_items))
    for u in range(n_users):  # give back excluded items until k candidates are left
        for i in range(n_items):
            if (~exclude[u]).sum() >= k:
                break
            exclude[u, i] = False
    return scores, truth, exclude, k


@st.composite
def rec_lists(draw, min_users=1, min_k=1):
    """(rec, n_items): top-K lists of distinct items."""
    n_items = draw(st.integers(max(min_k, 1), 12))
    k = draw(st.integers(min_k, n_items))
    n_users = draw(st.integers(min_users, 6))
    rows = draw(st.lists(st.permutations(range(n_items)), min_size=n_users, max_size=n_users))
    return np.array([row[:k] for row in rows], dtype=np.int64), n_items


# --------------------------------------------------------------------------------------------
# Property tests against the references
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(ranking_problems(), st.booleans())
def test_top_k_items_matches_reference_ranking(problem, use_exclude):
    scores, _, exclude, k = problem
    if not use_exclude:
        exclude = np.zeros_like(exclude)
    got = M.top_k_items(scores, k, exclude if use_exclude else None)
    want = [ref_ranking(list(scores[u]), list(exclude[u]))[:k] for u in range(len(scores))]
    assert got.dtype == np.int64
    assert got.tolist() == want


@PROPERTY
@given(ranking_problems(), st.booleans())
def test_accuracy_metrics_match_reference(problem, sparse_input):
    scores, truth, exclude, k = problem
    t, ex = (sp.csr_matrix(truth), sp.csr_matrix(exclude)) if sparse_input else (truth, exclude)
    for name, fn in ACCURACY.items():
        want = ref_user_values(name, scores, truth, exclude, k)
        assert_user_values(fn(scores, t, k, exclude=ex, per_user=True), want)
        assert_mean(fn(scores, t, k, exclude=ex), ref_mean(want))


@PROPERTY
@given(ranking_problems(), st.booleans())
def test_auc_matches_reference(problem, use_exclude):
    scores, truth, exclude, _ = problem
    if not use_exclude:
        exclude = np.zeros_like(exclude)
    want = ref_user_values("auc", scores, truth, exclude)
    ex = exclude if use_exclude else None
    assert_user_values(M.auc(scores, truth, exclude=ex, per_user=True), want)
    assert_mean(M.auc(scores, truth, exclude=ex), ref_mean(want))


@PROPERTY
@given(ranking_problems(), st.data())
def test_evaluate_ranking_matches_reference(problem, data):
    scores, truth, exclude, k = problem
    ks = sorted(set(data.draw(st.lists(st.integers(1, k), min_size=1, max_size=3))))
    result = M.evaluate_ranking(scores, truth, exclude, ks=ks, metrics=M.TOP_K_METRICS + ("auc",))
    expected_keys = [f"{m}@{kk}" for m in M.TOP_K_METRICS for kk in ks] + ["auc", "n_users"]
    assert list(result) == expected_keys
    for name in M.TOP_K_METRICS:
        for kk in ks:
            assert_mean(
                result[f"{name}@{kk}"], ref_mean(ref_user_values(name, scores, truth, exclude, kk))
            )
    assert_mean(result["auc"], ref_mean(ref_user_values("auc", scores, truth, exclude)))
    assert result["n_users"] == int(truth.any(axis=1).sum())


@PROPERTY
@given(rec_lists())
def test_catalogue_coverage_matches_reference(case):
    rec, n_items = case
    want = len({int(i) for row in rec for i in row}) / n_items
    assert abs(M.catalogue_coverage(rec, n_items) - want) <= TOL


@PROPERTY
@given(rec_lists(), st.data())
def test_novelty_matches_reference(case, data):
    rec, n_items = case
    n_train_users = data.draw(st.integers(1, 20))
    pop = data.draw(arrays(np.int64, n_items, elements=st.integers(0, n_train_users)))
    want = [
        sum(-math.log2(max(int(pop[i]), 1) / n_train_users) for i in row) / len(row) for row in rec
    ]
    assert_user_values(M.novelty(rec, pop, n_train_users, per_user=True), want)
    assert_mean(M.novelty(rec, pop, n_train_users), sum(want) / len(want))


@PROPERTY
@given(rec_lists(min_k=2), st.data())
def test_intra_list_diversity_matches_reference(case, data):
    rec, n_items = case
    dim = data.draw(st.integers(1, 5))
    element = st.one_of(st.integers(0, 1).map(float), st.floats(-3, 3, allow_nan=False))
    feats = data.draw(arrays(np.float64, (n_items, dim), elements=element))
    want = []
    for row in rec:
        pairs = [(a, b) for a in range(len(row)) for b in range(a + 1, len(row))]
        dist = [1 - ref_cosine(list(feats[row[a]]), list(feats[row[b]])) for a, b in pairs]
        want.append(sum(dist) / len(dist))
    assert_user_values(M.intra_list_diversity(rec, feats, per_user=True), want)
    assert_mean(M.intra_list_diversity(rec, sp.csr_matrix(feats)), sum(want) / len(want))


@PROPERTY
@given(rec_lists(), st.data())
def test_average_recommendation_popularity_matches_reference(case, data):
    rec, n_items = case
    pop = data.draw(arrays(np.int64, n_items, elements=st.integers(0, 50)))
    want = [sum(int(pop[i]) for i in row) / len(row) for row in rec]
    assert_user_values(M.average_recommendation_popularity(rec, pop, per_user=True), want)
    assert_mean(M.average_recommendation_popularity(rec, pop), sum(want) / len(want))


@PROPERTY
@given(st.lists(st.one_of(st.integers(0, 5).map(float), st.floats(0, 100)), min_size=1))
def test_gini_matches_mean_absolute_difference(x):
    assert abs(M.gini(x) - ref_gini(x)) <= TOL


@PROPERTY
@given(rec_lists())
def test_gini_of_exposure_matches_reference(case):
    rec, n_items = case
    counts = [sum(int(i) == item for row in rec for i in row) for item in range(n_items)]
    assert abs(M.gini_of_exposure(rec, n_items) - ref_gini(counts)) <= TOL


@PROPERTY
@given(rec_lists(min_users=2), st.sampled_from(["cosine", "jaccard"]))
def test_personalisation_matches_reference(case, similarity):
    rec, n_items = case
    lists = [set(row.tolist()) for row in rec]
    sims = []
    for u in range(len(lists)):
        for v in range(u + 1, len(lists)):
            common = len(lists[u] & lists[v])
            if similarity == "cosine":
                sims.append(common / math.sqrt(len(lists[u]) * len(lists[v])))
            else:
                sims.append(common / len(lists[u] | lists[v]))
    want = 1 - sum(sims) / len(sims)
    assert abs(M.personalisation(rec, n_items, similarity=similarity) - want) <= TOL


@PROPERTY
@given(st.integers(1, 6), st.integers(2, 15), st.data())
def test_ndcg_agrees_with_sklearn_for_binary_relevance(n_users, n_items, data):
    # sklearn's IDCG sorts the true relevance of all items and keeps the same K: for binary
    # relevance that is min(|R(u)|, K) ones, our IDCG. Distinct scores avoid sklearn's
    # tie averaging; no exclusion (sklearn has none); every user has a relevant item
    # (sklearn scores an all-zero row 0, our policy leaves it out).
    from sklearn.metrics import ndcg_score

    k = data.draw(st.integers(1, n_items))
    scores = np.array(
        [data.draw(st.permutations(range(n_items))) for _ in range(n_users)], dtype=float
    )
    truth = data.draw(arrays(np.bool_, (n_users, n_items)))
    truth[np.arange(n_users), data.draw(st.integers(0, n_items - 1))] = True
    ours = M.ndcg_at_k(scores, truth, k, per_user=True)
    theirs = [ndcg_score(truth[u : u + 1], scores[u : u + 1], k=k) for u in range(n_users)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL)
    assert abs(M.ndcg_at_k(scores, truth, k) - ndcg_score(truth, scores, k=k)) <= TOL


# --------------------------------------------------------------------------------------------
# Limits of the accuracy metrics
# --------------------------------------------------------------------------------------------


def _truth_with_counts(counts, n_items):
    truth = np.zeros((len(counts), n_items), dtype=bool)
    for u, c in enumerate(counts):
        truth[u, (np.arange(c) * 7 + u) % n_items] = True  # spread over the catalogue
    return truth


def test_recall_of_truth_scored_by_itself_is_one():
    x = _truth_with_counts([1, 3, 5, 5], n_items=30)
    assert M.recall_at_k(x, x, 5) == 1.0
    assert M.recall_at_k(x.astype(float), sp.csr_matrix(x), 5) == 1.0


@pytest.mark.parametrize("name", sorted(ACCURACY))
def test_perfect_ranking_scores_one(name):
    k = 5
    exact = _truth_with_counts([k, k, k], n_items=40)  # |R(u)| = K: every metric reaches 1
    assert ACCURACY[name](exact.astype(float), exact, k) == pytest.approx(1.0, abs=TOL)
    if name != "recall":  # |R(u)| > K: recall is capped at K/|R(u)|, the others still reach 1
        many = _truth_with_counts([k + 1, 12], n_items=40)
        assert ACCURACY[name](many.astype(float), many, k) == pytest.approx(1.0, abs=TOL)
    if name not in ("precision",):  # |R(u)| < K: precision is capped at |R(u)|/K
        few = _truth_with_counts([1, 2], n_items=40)
        assert ACCURACY[name](few.astype(float), few, k) == pytest.approx(1.0, abs=TOL)


def test_precision_and_recall_caps_are_reached_by_perfect_rankings():
    k = 5
    many = _truth_with_counts([10], n_items=40)
    few = _truth_with_counts([2], n_items=40)
    assert M.recall_at_k(many.astype(float), many, k) == pytest.approx(k / 10)
    assert M.precision_at_k(few.astype(float), few, k) == pytest.approx(2 / k)


@pytest.mark.parametrize("name", sorted(ACCURACY))
def test_worst_ranking_scores_zero(name):
    n_items, k = 20, 6
    truth = _truth_with_counts([2, 4, 5], n_items)  # k < n_items - |R(u)| for every user
    worst = np.where(truth, -1.0, np.arange(n_items, dtype=float))  # relevant items last
    assert ACCURACY[name](worst, truth, k) == 0.0
    assert (ACCURACY[name](worst, truth, k, per_user=True) == 0.0).all()


def test_auc_limits():
    truth = _truth_with_counts([1, 3, 6], n_items=12)
    assert M.auc(truth.astype(float), truth) == 1.0
    assert M.auc(-truth.astype(float), truth) == 0.0
    assert M.auc(np.zeros(truth.shape), truth) == 0.5  # ties count one half


def test_auc_ignores_excluded_items():
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    truth = np.array([[False, False, True, False, False]])
    # Among all items: 2 of 4 negatives below the positive. Excluding the two above it: 1.0.
    assert M.auc(scores, truth) == 0.5
    exclude = np.array([[True, True, False, False, False]])
    assert M.auc(scores, truth, exclude) == 1.0


def test_ndcg_and_map_known_values():
    # Relevant items ranked 2nd and 4th of K=4, |R(u)| = 2.
    scores = np.array([[4.0, 3.0, 2.0, 1.0, 0.0]])
    truth = np.array([[0, 1, 0, 1, 0]])
    ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert M.ndcg_at_k(scores, truth, 4) == pytest.approx(ndcg, abs=TOL)
    assert M.map_at_k(scores, truth, 4) == pytest.approx((1 / 2 + 2 / 4) / 2, abs=TOL)
    assert M.mrr_at_k(scores, truth, 4) == 0.5
    assert M.mrr_at_k(scores, truth, 1) == 0.0
    assert M.map_at_k(scores, truth, 2) == pytest.approx(0.5 / 2, abs=TOL)  # min(|R|, K) = 2


# --------------------------------------------------------------------------------------------
# Empty ground truth
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACCURACY) + ["auc"])
def test_users_without_relevant_items_are_nan_and_left_out_of_the_mean(name):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((4, 10))
    truth = np.zeros((4, 10), dtype=bool)
    truth[0, [1, 2]] = True
    truth[2, 7] = True
    fn = M.auc if name == "auc" else lambda s, t, **kw: ACCURACY[name](s, t, 3, **kw)
    per_user = fn(scores, truth, per_user=True)
    assert np.isnan(per_user[[1, 3]]).all()
    assert not np.isnan(per_user[[0, 2]]).any()
    assert fn(scores, truth) == pytest.approx(per_user[[0, 2]].mean(), abs=TOL)
    key = "auc" if name == "auc" else f"{name}@3"
    result = M.evaluate_ranking(scores, truth, ks=(3,), metrics=(name,))
    assert result[key] == pytest.approx(per_user[[0, 2]].mean(), abs=TOL)
    assert result["n_users"] == 2


def test_no_relevant_item_at_all_gives_nan_without_warnings():
    scores = np.arange(12, dtype=float).reshape(3, 4)
    truth = sp.csr_matrix((3, 4), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = M.evaluate_ranking(scores, truth, ks=(2,), metrics=M.TOP_K_METRICS + ("auc",))
        assert np.isnan(M.recall_at_k(scores, truth, 2))
        assert np.isnan(M.recall_at_k(scores, truth, 2, per_user=True)).all()
    assert result["n_users"] == 0
    assert all(np.isnan(v) for key, v in result.items() if key != "n_users")


def test_auc_is_nan_for_a_user_without_negatives():
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    truth = np.array([[1, 1, 0], [1, 0, 0]])
    exclude = np.array([[0, 0, 1], [0, 0, 0]])  # user 0: every candidate is relevant
    per_user = M.auc(scores, truth, exclude, per_user=True)
    assert np.isnan(per_user[0]) and per_user[1] == 0.0


def test_evaluate_ranking_per_user_matches_single_functions():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((30, 50))
    truth = rng.random((30, 50)) < 0.1
    exclude = (rng.random((30, 50)) < 0.2) & ~truth
    result = M.evaluate_ranking(scores, truth, exclude, ks=(5, 10), per_user=True)
    for name, fn in ACCURACY.items():
        for k in (5, 10):
            np.testing.assert_array_equal(
                result[f"{name}@{k}"], fn(scores, truth, k, exclude=exclude, per_user=True)
            )
    assert result["n_users"] == int(truth.any(axis=1).sum())


# --------------------------------------------------------------------------------------------
# Top-K extraction: exclusion and ties
# --------------------------------------------------------------------------------------------


def test_excluded_items_never_appear_in_top_k():
    rng = np.random.default_rng(2)
    scores = rng.standard_normal((50, 40))
    exclude = rng.random((50, 40)) < 0.5
    exclude[:, :4] = True
    scores[:, :4] = 100.0  # the best-scored items are the training items
    scores[:, 4:8] = -np.inf  # candidates that tie with masked items at -inf
    k = int((~exclude).sum(axis=1).min())
    rec = M.top_k_items(scores, k, sp.csr_matrix(exclude))
    assert not np.take_along_axis(exclude, rec, axis=1).any()


def test_ties_break_towards_the_lower_item_id():
    scores = np.array([[1.0, 0.5, 0.5, 0.5, 2.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert M.top_k_items(scores, 3).tolist() == [[4, 0, 1], [0, 1, 2]]
    exclude = np.array([[0, 1, 0, 0, 0], [1, 0, 1, 0, 0]])
    assert M.top_k_items(scores, 3, exclude).tolist() == [[4, 0, 2], [1, 3, 4]]
    rng = np.random.default_rng(3)
    tied = rng.integers(0, 3, size=(20, 30)).astype(float)
    first = M.top_k_items(tied, 10)
    assert np.array_equal(first, M.top_k_items(tied.copy(), 10))
    # Shorter lists are prefixes of longer ones (each user's ranking is a total order).
    for k in (1, 4, 9):
        assert np.array_equal(M.top_k_items(tied, k), first[:, :k])


def test_top_k_with_k_equal_to_n_items_is_the_full_ranking():
    scores = np.array([[0.1, 0.3, 0.2, 0.3]])
    assert M.top_k_items(scores, 4).tolist() == [[1, 3, 2, 0]]


def test_integer_and_float32_scores_and_no_users():
    assert M.top_k_items(np.array([[1, 3, 2]]), 2).tolist() == [[1, 2]]
    assert M.top_k_items(np.array([[1, 3, 2]], dtype=np.float32), 2).tolist() == [[1, 2]]
    assert M.top_k_items(np.zeros((0, 5)), 2).shape == (0, 2)


# --------------------------------------------------------------------------------------------
# Beyond accuracy: limits and documented values
# --------------------------------------------------------------------------------------------


def test_gini_limits():
    assert M.gini([3.0] * 7) == 0.0
    assert M.gini([0.1] * 11) == 0.0  # exactly, despite rounding
    for n in (1, 2, 5, 100):
        one_hot = np.zeros(n)
        one_hot[n // 2] = 4.0
        assert M.gini(one_hot) == pytest.approx((n - 1) / n, abs=TOL)
    assert M.gini(np.zeros(4)) == 0.0
    assert M.gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=TOL)


def test_gini_of_exposure_limits():
    n_items, k = 10, 3
    same = np.tile([4, 1, 7], (5, 1))  # everybody gets the same three items
    assert M.gini_of_exposure(same, n_items) == pytest.approx((n_items - k) / n_items)
    equal = np.arange(n_items).reshape(5, 2)  # every item recommended once
    assert M.gini_of_exposure(equal, n_items) == 0.0
    one_item = np.array([[2], [2], [2]])
    assert M.gini_of_exposure(one_item, n_items) == pytest.approx((n_items - 1) / n_items)


def test_coverage_and_personalisation_limits():
    same = np.tile([4, 1, 7], (5, 1))
    disjoint = np.arange(15).reshape(5, 3)
    assert M.catalogue_coverage(same, 30) == pytest.approx(3 / 30)
    assert M.catalogue_coverage(disjoint, 15) == 1.0
    for similarity in ("cosine", "jaccard"):
        assert M.personalisation(same, 30, similarity) == 0.0
        assert M.personalisation(disjoint, 15, similarity) == 1.0
    half = np.array([[0, 1], [1, 2]])  # one shared item of two
    assert M.personalisation(half, 3, "cosine") == pytest.approx(0.5)
    assert M.personalisation(half, 3, "jaccard") == pytest.approx(1 - 1 / 3)


def test_novelty_limits_and_unseen_items():
    rec = np.array([[0, 1], [1, 0]])
    assert M.novelty(rec, [8, 8, 3], n_users=8) == 0.0  # everybody knows items 0 and 1
    # An item nobody interacted with counts as if one user had: log2(n_users) bits.
    assert M.novelty(np.array([[2]]), [8, 8, 0], n_users=8) == pytest.approx(3.0)
    assert M.novelty(np.array([[2]]), [8, 8, 1], n_users=8) == pytest.approx(3.0)


def test_intra_list_diversity_limits():
    genres = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), genres) == pytest.approx(1.0)
    assert M.intra_list_diversity(np.array([[0, 3]]), genres) == pytest.approx(0.0)
    # Zero vectors are at distance 1 from everything, one another included.
    assert M.intra_list_diversity(np.array([[4, 5], [0, 4]]), genres) == pytest.approx(1.0)


def test_average_recommendation_popularity():
    pop = np.array([10, 0, 4, 6])
    rec = np.array([[0, 2], [1, 3]])
    assert M.average_recommendation_popularity(rec, pop, per_user=True).tolist() == [7.0, 3.0]
    assert M.average_recommendation_popularity(rec, pop) == 5.0


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

SCORES = np.arange(12, dtype=float).reshape(3, 4)
TRUTH = np.eye(3, 4, dtype=bool)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.recall_at_k(SCORES, TRUTH[:2], 2), r"truth has shape \(2, 4\)"),
        (lambda: M.recall_at_k(SCORES, sp.csr_matrix(TRUTH.T), 2), "truth has shape"),
        (lambda: M.recall_at_k(SCORES, TRUTH, 2, exclude=np.ones((3, 5))), "exclude has shape"),
        (lambda: M.recall_at_k(SCORES, TRUTH, 0), "k must be >= 1"),
        (lambda: M.recall_at_k(SCORES, TRUTH, 5), "larger than the number of items"),
        (lambda: M.recall_at_k(SCORES, TRUTH, 2.5), "k must be an integer"),
        (lambda: M.top_k_items(SCORES, True), "k must be an integer"),
        (lambda: M.top_k_items(SCORES[0], 2), "scores must be 2-D"),
        (lambda: M.top_k_items(sp.csr_matrix(SCORES), 2), "not sparse"),
        (lambda: M.top_k_items(np.full((2, 3), np.nan), 2), "NaN"),
        (lambda: M.recall_at_k(SCORES, TRUTH * 4, 2), "only 0/1"),
        (lambda: M.recall_at_k(SCORES, sp.csr_matrix(TRUTH * 5.0), 2), "only 0/1"),
        (lambda: M.recall_at_k(SCORES, TRUTH, 2, exclude=TRUTH), "overlap"),
        (lambda: M.top_k_items(SCORES, 3, exclude=np.eye(3, 4) + np.eye(3, 4, 1)), "fewer than"),
        (lambda: M.evaluate_ranking(SCORES, TRUTH, metrics=("recal",)), "unknown metric"),
        (lambda: M.evaluate_ranking(SCORES, TRUTH, ks=(2, 9)), "ks entry=9"),
        (lambda: M.evaluate_ranking(SCORES, TRUTH, ks=()), "ks is empty"),
        (lambda: M.catalogue_coverage(np.array([[0, 4]]), 4), "outside"),
        (lambda: M.catalogue_coverage(np.array([[0, -1]]), 4), "outside"),
        (lambda: M.catalogue_coverage(np.array([[1, 1]]), 4), "repeat an item"),
        (lambda: M.catalogue_coverage(np.zeros((2, 0), dtype=int), 4), "k = 0"),
        (lambda: M.catalogue_coverage(np.zeros((1, 5), dtype=int), 4), "more than n_items"),
        (lambda: M.catalogue_coverage(np.array([0, 1]), 4), "rec must be 2-D"),
        (lambda: M.catalogue_coverage(np.array([[0.0, 1.0]]), 4), "integer item ids"),
        (lambda: M.catalogue_coverage(np.array([[0, 1]]), 0), "n_items must be >= 1"),
        (lambda: M.novelty(np.array([[0]]), [5, 1], n_users=4), "exceeds n_users"),
        (lambda: M.novelty(np.array([[0]]), [-1, 1], n_users=4), "non-negative"),
        (lambda: M.novelty(np.array([[2]]), [1, 1], n_users=4), "outside"),
        (lambda: M.intra_list_diversity(np.array([[0], [1]]), np.eye(2)), "k >= 2"),
        (lambda: M.intra_list_diversity(np.array([[0, 1]]), np.ones(2)), "must be 2-D"),
        (lambda: M.personalisation(np.array([[0, 1]]), 2), "at least 2 users"),
        (lambda: M.personalisation(np.array([[0], [1]]), 2, "dice"), "similarity must be"),
        (lambda: M.gini([]), "empty"),
        (lambda: M.gini([1.0, -1.0]), "non-negative"),
        (lambda: M.gini([[1.0]]), "1-D"),
    ],
)
def test_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_metrics_module_imports_no_tensorflow_or_pandas():
    code = (
        "import sys, gnnrec_utils.metrics\n"
        "print(sorted(m for m in ('tensorflow', 'pandas', 'sklearn') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_per_user_values_do_not_depend_on_the_other_rows():
    """Batched evaluation (metrics.RankingEvaluator) relies on it: each user's value is
    computed from its own row only, bit for bit (no BLAS reduction whose order depends on
    the number of rows)."""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(203, 400))
    truth = rng.random((203, 400)) < 0.3  # dense hits: many NDCG terms to add per row
    whole = M.evaluate_ranking(scores, truth, ks=(5, 20), per_user=True)
    for rows in (slice(0, 1), slice(7, 50), slice(101, 203)):
        part = M.evaluate_ranking(scores[rows], truth[rows], ks=(5, 20), per_user=True)
        for key, values in part.items():
            if key != "n_users":
                np.testing.assert_array_equal(values, whole[key][rows], err_msg=key)
