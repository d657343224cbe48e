r"""The experiment layer of notebook 06: baselines, protocols, seeds, significance, groups, cases.

Everything a careful comparison of recommenders needs beyond the metrics themselves
(:mod:`gnnrec_utils.metrics`):

- :class:`ItemKNN` and :func:`item_cosine_similarity`: the item-based nearest-neighbour
  baseline (Sarwar et al., 2001; Deshpande & Karypis, 2004), NumPy/SciPy only;
- :class:`ComparisonEvaluator`: accuracy *and* beyond-accuracy metrics of a score matrix in
  one dict (full ranking, training/validation items excluded, optionally on a subset of
  users);
- :func:`sample_negatives`, :func:`sampled_ranks` and :func:`sampled_ranking_metrics`:
  the sampled-ranking protocol (each test positive ranked against 100 sampled negatives)
  that Krichene & Rendle (KDD 2020) showed to be inconsistent with full ranking;
- :func:`run_seeds` (with :func:`fit_cached`) and :func:`summarise_runs`: train and evaluate
  several models over several seeds into a tidy table ``(model, seed, metric, value)``, then
  mean ± std;
- :func:`paired_comparison`: paired t-test, Wilcoxon signed-rank test and a seeded bootstrap
  confidence interval of the mean per-user difference between two models;
- :func:`activity_groups`, :func:`popularity_groups`, :func:`group_means` and
  :func:`item_group_metrics`: who is served (cold / medium / heavy users; head / mid / tail
  items);
- :func:`genre_labels`, :func:`user_history`, :func:`top_k_table` and
  :func:`why_recommended`: the case-study tables (titles, genres, contributing items).

Nothing here imports TensorFlow: models are used through their methods only
(``score_all_users``, ``explain``), so the module is cheap to import and to test. Randomness
is passed in as ``seed=``; no global state is touched.

Taught in ``notebooks/06_evaluation.ipynb``.
"""

from __future__ import annotations

from gnnrec_utils._validate import index_array as _ids
from gnnrec_utils.constants import GENRES
from gnnrec_utils.graph import interaction_matrix, interaction_union
from gnnrec_utils.metrics import (
    TOP_K_METRICS,
    average_recommendation_popularity,
    catalogue_coverage,
    evaluate_ranking,
    gini_of_exposure,
    intra_list_diversity,
    novelty,
    personalisation,
    top_k_items,
)

import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

__all__ = [
    "ItemKNN",
    "item_cosine_similarity",
    "ComparisonEvaluator",
    "BEYOND_ACCURACY",
    "beyond_accuracy",
    "sample_negatives",
    "sampled_ranks",
    "sampled_ranking_metrics",
    "fit_cached",
    "run_seeds",
    "summarise_runs",
    "format_mean_std",
    "format_mean_sd",
    "mean_sd",
    "paired_comparison",
    "activity_groups",
    "popularity_groups",
    "group_means",
    "item_group_metrics",
    "genre_labels",
    "user_history",
    "top_k_table",
    "why_recommended",
]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _scores_of(obj, users=None) -> np.ndarray:
    """A dense score matrix from a model (``score_all_users``) or an array."""
    if hasattr(obj, "score_all_users"):
        s = obj.score_all_users() if users is None else obj.score_all_users(users)
    else:
        s = np.asarray(obj)
        if users is not None:
            s = s[np.asarray(users)]
    s = np.asarray(s)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {s.shape}")
    return s


# --------------------------------------------------------------------------------------------
# Item-kNN baseline
# --------------------------------------------------------------------------------------------


def item_cosine_similarity(R, k: int | None = 50, block: int = 1024) -> sp.csr_matrix:
    r"""Item–item cosine similarity of the columns of ``R``, pruned to each item's top-k.

    .. math::
        \cos(j, i) = \frac{\mathbf r_j^\top \mathbf r_i}{\lVert \mathbf r_j \rVert\,
        \lVert \mathbf r_i \rVert}, \qquad
        S_{ji} = \begin{cases} \cos(j, i) & j \in N_k(i) \\ 0 & \text{otherwise} \end{cases}

    with :math:`\mathbf r_i` the column of item ``i`` (which users interacted with it) and
    :math:`N_k(i)` the ``k`` items :math:`j \ne i` most similar to ``i`` with
    :math:`\cos(j, i) > 0` (ties broken towards the lower item index). The diagonal is 0
    (an item is not its own neighbour); items without interactions have no neighbours.

    **Input**: ``R``, ``(n_users, n_items)`` SciPy sparse or dense, non-negative (the binary
    training interaction matrix).

    **Output**: ``scipy.sparse.csr_matrix`` ``(n_items, n_items)`` float64, column ``i``
    holding at most ``k`` non-zeros, values in ``(0, 1]``.

    **Arguments**: ``k``: neighbours kept per item (``None``: all); ``block``: columns
    processed at a time (memory :math:`O(n_\text{items} \cdot \text{block})`).

    References: Sarwar, Karypis, Konstan & Riedl (2001), "Item-based collaborative filtering
    recommendation algorithms", WWW; Deshpande & Karypis (2004), "Item-based top-N
    recommendation algorithms", ACM TOIS 22(1).
    """
    R = sp.csc_matrix(R, dtype=np.float64)
    if R.nnz and R.data.min() < 0:
        raise ValueError("R must be non-negative")
    n_items = R.shape[1]
    if k is not None and (int(k) != k or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    k_eff = n_items if k is None else min(int(k), n_items)
    norms = np.sqrt(np.asarray(R.multiply(R).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    Rt = R.T.tocsr()
    rows, cols, vals = [], [], []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        cos = (Rt @ R[:, start:stop]).toarray()  # (n_items, b): co-occurrence counts
        cos *= inv[:, None]
        cos *= inv[None, start:stop]
        cos[np.arange(start, stop), np.arange(stop - start)] = 0.0  # no self-similarity
        # Stable sort on -cos: among equal similarities the lower item index comes first.
        order = np.argsort(-cos, axis=0, kind="stable")[:k_eff]
        top = np.take_along_axis(cos, order, axis=0)
        keep = top > 0
        rows.append(order[keep])
        cols.append(np.broadcast_to(np.arange(start, stop), order.shape)[keep])
        vals.append(top[keep])
    S = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )
    S.sort_indices()
    return S


class ItemKNN:
    r"""Item-based k-nearest-neighbour recommender on binary implicit feedback.

    .. math::
        s_{ui} = \sum_{j \in I(u)} S_{ji} = \sum_{j \in I(u) \cap N_k(i)} \cos(j, i),
        \qquad \text{i.e.} \qquad \mathbf S_\text{scores} = R\,S

    with :math:`R` the binary training matrix, :math:`I(u)` user ``u``'s training items and
    :math:`S` from :func:`item_cosine_similarity`. No training loop and no randomness: one
    fit gives the model (deterministic, so one run stands for every seed).

    **Arguments**: ``n_users``, ``n_items``, ``k`` (neighbours per item; choose it on the
    validation split).

    Methods follow the course's model interface: :meth:`fit` (``users``, ``items``: training
    pairs), :meth:`score_all_users` (``(n_users, n_items)`` float32), :meth:`score_pairs`,
    and :meth:`explain` (the score split over the user's past items, like
    ``LightGCN.explain``).

    Taught in ``notebooks/06_evaluation.ipynb`` (section 2).
    """

    def __init__(self, n_users: int, n_items: int, k: int | None = 50):
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.k = k
        self.R = sp.csr_matrix((self.n_users, self.n_items))
        self.S = sp.csr_matrix((self.n_items, self.n_items))

    def fit(self, users, items) -> ItemKNN:
        self.R = interaction_matrix(users, items, self.n_users, self.n_items, duplicates="collapse")
        self.S = item_cosine_similarity(self.R, self.k)
        return self

    def score_all_users(self, users=None) -> np.ndarray:
        R = self.R if users is None else self.R[_ids(users, self.n_users, "users")]
        return (R @ self.S).toarray().astype(np.float32)

    user_item_scores = score_all_users

    def score_pairs(self, users, items) -> np.ndarray:
        u = _ids(users, self.n_users, "users")
        i = _ids(items, self.n_items, "items")
        return np.asarray(self.R[u].multiply(self.S[:, i].T).sum(axis=1)).ravel()

    def explain(self, user: int, item: int) -> dict:
        r"""The score :math:`s_{ui}` split over the user's past items :math:`j \in I(u)`.

        **Output**: ``{"score", "past_items", "past_item_contrib"}`` with
        ``past_item_contrib[m]`` :math:`= S_{j_m i}` (0 when :math:`j_m \notin N_k(i)`);
        the contributions sum to ``"score"``.
        """
        u = int(_ids([user], self.n_users, "user")[0])
        i = int(_ids([item], self.n_items, "item")[0])
        past = self.R[u].indices.astype(np.int64)
        contrib = self.S[past, i].toarray().ravel() if past.size else np.zeros(0)
        return {"score": float(contrib.sum()), "past_items": past, "past_item_contrib": contrib}


# --------------------------------------------------------------------------------------------
# Accuracy + beyond-accuracy in one evaluator
# --------------------------------------------------------------------------------------------

#: Beyond-accuracy metrics reported by :func:`beyond_accuracy` (and the comparison table).
BEYOND_ACCURACY: tuple[str, ...] = (
    "coverage",
    "novelty",
    "ild",
    "arp",
    "gini_exposure",
    "personalisation",
)


def beyond_accuracy(rec, item_popularity, item_features, n_train_users: int) -> dict:
    r"""The beyond-accuracy metrics of a set of top-K lists, as one dict.

    ``coverage`` (:func:`~gnnrec_utils.metrics.catalogue_coverage`), ``novelty`` (mean
    self-information in bits), ``ild`` (intra-list diversity over ``item_features``, e.g.
    genres), ``arp`` (average recommendation popularity, in training interactions),
    ``gini_exposure`` and ``personalisation`` (cosine). See :mod:`gnnrec_utils.metrics` for
    the formulas and ranges.

    **Input**: ``rec`` int ``(n_users, k)``; ``item_popularity`` ``(n_items,)`` training
    counts (distinct users per item); ``item_features`` ``(n_items, d)``;
    ``n_train_users``: the number of users in the training data (novelty's :math:`|U|`).
    """
    n_items = np.asarray(item_popularity).shape[0]
    return {
        "coverage": catalogue_coverage(rec, n_items),
        "novelty": novelty(rec, item_popularity, n_train_users),
        "ild": intra_list_diversity(rec, item_features),
        "arp": average_recommendation_popularity(rec, item_popularity),
        "gini_exposure": gini_of_exposure(rec, n_items),
        "personalisation": personalisation(rec, n_items),
    }


class ComparisonEvaluator:
    r"""Full-ranking accuracy and beyond-accuracy metrics of a score matrix, in one dict.

    For every evaluated user: mask the items in ``exclude`` (training, and validation when
    testing), rank all other items, compare the top K with the held-out ``truth``
    (:func:`gnnrec_utils.metrics.evaluate_ranking`), and measure the top-``k_beyond`` lists
    with :func:`beyond_accuracy`.

    **Arguments**

    - ``truth``: ``(users, items)`` held-out positives; ``exclude``: a sequence of
      ``(users, items)`` pairs masked before ranking;
    - ``n_users``, ``n_items``;
    - ``item_popularity`` ``(n_items,)`` and ``item_features`` ``(n_items, d)`` for the
      beyond-accuracy metrics; ``n_train_users`` for novelty (default: users with at least
      one excluded item);
    - ``users``: the users to evaluate (default: every user with at least one ``truth``
      item). Under a global temporal split, pass the test users *with training history*: a
      model has no vector for the others, so any number about them would be made up;
    - ``ks``, ``metrics``: as in :func:`~gnnrec_utils.metrics.evaluate_ranking`;
      ``k_beyond``: list length of the beyond-accuracy metrics (default: ``max(ks)``).

    **Call** with a score matrix ``(n_users, n_items)`` or a model with
    ``score_all_users()``; returns ``{"recall@20": …, "ndcg@20": …, …, "coverage": …, …,
    "n_users": …}``. ``per_user=True`` returns the accuracy metrics as per-user arrays over
    *all* ``n_users`` rows (NaN for users not evaluated), for paired tests and groups.
    ``top_k(scores, k)`` gives the masked top-k lists of the evaluated users.
    """

    def __init__(
        self,
        truth: tuple,
        n_users: int,
        n_items: int,
        exclude: Sequence[tuple] = (),
        item_popularity=None,
        item_features=None,
        n_train_users: int | None = None,
        users=None,
        ks: Iterable[int] = (10, 20),
        metrics: Sequence[str] = TOP_K_METRICS,
        k_beyond: int | None = None,
    ):
        self.n_users, self.n_items = int(n_users), int(n_items)
        truth_m = interaction_matrix(*truth, self.n_users, self.n_items, duplicates="collapse")
        excl_m = interaction_union(exclude, self.n_users, self.n_items)
        if truth_m.multiply(excl_m).nnz:
            raise ValueError("truth and exclude overlap: a held-out item cannot be masked")
        n_rel = np.diff(truth_m.indptr)
        if users is None:
            users = np.flatnonzero(n_rel > 0)
        self.users = np.unique(_ids(users, self.n_users, "users"))
        self.truth = truth_m[self.users].toarray().astype(bool)
        self.exclude = excl_m[self.users].toarray().astype(bool)
        self.ks = tuple(ks)
        self.metrics = tuple(metrics)
        self.k_beyond = int(max(self.ks) if k_beyond is None else k_beyond)
        self.item_popularity = None if item_popularity is None else np.asarray(item_popularity)
        self.item_features = item_features
        if n_train_users is None:
            n_train_users = int((np.diff(excl_m.indptr) > 0).sum())
        self.n_train_users = int(n_train_users)

    def _rows(self, scores) -> np.ndarray:
        s = _scores_of(scores)
        if s.shape != (self.n_users, self.n_items):
            raise ValueError(
                f"scores have shape {s.shape}, expected {(self.n_users, self.n_items)}"
            )
        return s[self.users]

    def top_k(self, scores, k: int | None = None) -> np.ndarray:
        """Top-``k`` lists ``(len(users), k)`` of the evaluated users, masked items removed."""
        return top_k_items(self._rows(scores), k or self.k_beyond, self.exclude)

    def __call__(self, scores, per_user: bool = False) -> dict:
        s = self._rows(scores)
        out = evaluate_ranking(
            s, self.truth, self.exclude, ks=self.ks, metrics=self.metrics, per_user=per_user
        )
        n_eval = out.pop("n_users")
        if per_user:
            full = {}
            for key, values in out.items():
                arr = np.full(self.n_users, np.nan)
                arr[self.users] = values
                full[key] = arr
            full["n_users"] = n_eval
            return full
        if self.item_popularity is not None and self.item_features is not None:
            rec = top_k_items(s, self.k_beyond, self.exclude)
            out.update(
                beyond_accuracy(rec, self.item_popularity, self.item_features, self.n_train_users)
            )
        out["n_users"] = n_eval
        return out


# --------------------------------------------------------------------------------------------
# Sampled ranking (Krichene & Rendle, KDD 2020)
# --------------------------------------------------------------------------------------------


def sample_negatives(
    known: Sequence[tuple],
    n_users: int,
    n_items: int,
    n_negatives: int = 100,
    seed: int | None = 0,
) -> np.ndarray:
    r"""For every user, ``n_negatives`` distinct items drawn uniformly from the items the
    user never interacted with.

    .. math::
        \mathcal N_u \sim \mathrm{Uniform}\Big\{ N \subset I \setminus \mathcal K(u) :
        |N| = m \Big\}

    with :math:`\mathcal K(u)` every known item of ``u`` (training, validation *and* test —
    a sampled "negative" must not be a held-out positive) and :math:`m` = ``n_negatives``.
    One set per user, shared by all of that user's test positives (the protocol of NCF, He
    et al. 2017, and of Krichene & Rendle 2020 with one set per evaluated user).

    **Input**: ``known``: a sequence of ``(users, items)`` pairs; ``seed``: the generator
    seed (``np.random.default_rng(seed)``; users are drawn in index order, so the same seed
    always gives the same sets).

    **Output**: int64 array ``(n_users, n_negatives)``. Raises ``ValueError`` if a user has
    fewer than ``n_negatives`` unknown items.
    """
    if int(n_negatives) != n_negatives or n_negatives < 1:
        raise ValueError(f"n_negatives must be a positive integer, got {n_negatives!r}")
    n_negatives = int(n_negatives)
    K = interaction_union(known, n_users, n_items)
    rng = np.random.default_rng(seed)
    out = np.empty((n_users, n_negatives), dtype=np.int64)
    all_items = np.arange(n_items)
    for u in range(n_users):
        cand = np.setdiff1d(all_items, K.indices[K.indptr[u] : K.indptr[u + 1]], True)
        if cand.size < n_negatives:
            raise ValueError(
                f"user {u} has only {cand.size} unknown items, fewer than n_negatives={n_negatives}"
            )
        out[u] = rng.choice(cand, size=n_negatives, replace=False)
    return out


def sampled_ranks(scores, users, items, negatives) -> np.ndarray:
    r"""The 1-based rank of each positive ``(users[n], items[n])`` among itself and the
    user's sampled negatives.

    .. math::
        \mathrm{rank}(u, i) = 1 + \big|\{j \in \mathcal N_u : s_{uj} > s_{ui}\}\big|
        + \big|\{j \in \mathcal N_u : s_{uj} = s_{ui},\ j < i\}\big|

    Ties are broken as in full ranking (:func:`gnnrec_utils.metrics.top_k_items`): the lower
    item index ranks first. **Output**: int64 ``(n_pairs,)`` in ``[1, m + 1]``.
    """
    s = _scores_of(scores)
    u = _ids(users, s.shape[0], "users")
    i = _ids(items, s.shape[1], "items")
    neg = np.asarray(negatives, dtype=np.int64)
    if neg.ndim != 2 or neg.shape[0] != s.shape[0]:
        raise ValueError(f"negatives must have shape (n_users, m), got {neg.shape}")
    pos_s = s[u, i][:, None]
    neg_items = neg[u]
    neg_s = np.take_along_axis(s[u], neg_items, axis=1)
    above = (neg_s > pos_s) | ((neg_s == pos_s) & (neg_items < i[:, None]))
    return 1 + above.sum(axis=1)


def sampled_ranking_metrics(
    scores,
    truth: tuple,
    negatives,
    ks: Iterable[int] = (10,),
    average: str = "user",
    per_user: bool = False,
) -> dict:
    r"""Hit rate, NDCG and AUC at K when each test positive competes with ``m`` sampled
    negatives instead of the whole catalogue.

    With :math:`r = \mathrm{rank}(u, i)` from :func:`sampled_ranks` (one relevant item per
    ranking, so the ideal DCG is 1):

    .. math::
        \mathrm{HR@K} = \mathbb 1[r \le K], \qquad
        \mathrm{NDCG@K} = \frac{\mathbb 1[r \le K]}{\log_2(r + 1)}, \qquad
        \mathrm{AUC} = \frac{m + 1 - r}{m}

    averaged first over each user's test positives and then over users (``average="user"``,
    every user counts once, as in full ranking) or over all pairs (``average="pair"``).

    Krichene & Rendle (2020), "On Sampled Metrics for Item Recommendation", KDD, show that
    such sampled metrics are biased estimates of their full-ranking counterparts and can
    even order two models differently; notebook 06 measures it on ML-100K.

    **Output**: ``{"hit_rate@K": …, "ndcg@K": …, "auc": …, "n_pairs": …, "n_users": …}``;
    with ``per_user=True`` each metric is instead a ``(n_users,)`` array of per-user means
    (NaN for users without test positives), for paired tests over users.
    """
    if average not in ("user", "pair"):
        raise ValueError(f"average must be 'user' or 'pair', got {average!r}")
    if per_user and average != "user":
        raise ValueError("per_user=True needs average='user'")
    u = np.asarray(truth[0], dtype=np.int64)
    i = np.asarray(truth[1], dtype=np.int64)
    m = np.asarray(negatives).shape[1]
    r = sampled_ranks(scores, u, i, negatives).astype(np.float64)
    per_pair = {}
    for k in (ks,) if np.ndim(ks) == 0 else tuple(ks):
        hit = (r <= k).astype(np.float64)
        per_pair[f"hit_rate@{k}"] = hit
        per_pair[f"ndcg@{k}"] = hit / np.log2(r + 1.0)
    per_pair["auc"] = (m + 1.0 - r) / m
    out = {}
    if average == "pair":
        out = {key: float(v.mean()) for key, v in per_pair.items()}
    else:
        users, inverse = np.unique(u, return_inverse=True)
        counts = np.bincount(inverse)
        for key, v in per_pair.items():
            means = np.bincount(inverse, weights=v) / counts
            if per_user:
                full = np.full(np.asarray(negatives).shape[0], np.nan)
                full[users] = means
                out[key] = full
            else:
                out[key] = float(means.mean())
    out["n_pairs"] = int(u.size)
    out["n_users"] = int(np.unique(u).size)
    return out


# --------------------------------------------------------------------------------------------
# Several models × several seeds
# --------------------------------------------------------------------------------------------


def fit_cached(cache: dict | None, name: str, seed: int, factory: Callable[[int], Any]):
    """``factory(seed)``, timed, memoised in ``cache[(name, seed)] = (obj, wall_s, cpu_s)``.

    Lets a notebook train a model once (e.g. for a first look in section 1) and reuse it in
    :func:`run_seeds` with its original fit times. ``cache=None``: no memo. Returns the
    ``(obj, wall_seconds, cpu_seconds)`` triple.
    """
    key = (name, int(seed))
    if cache is not None and key in cache:
        return cache[key]
    t0, c0 = time.perf_counter(), time.process_time()
    obj = factory(int(seed))
    entry = (obj, time.perf_counter() - t0, time.process_time() - c0)
    if cache is not None:
        cache[key] = entry
    return entry


def run_seeds(
    factories: Mapping[str, Callable[[int], Any]],
    seeds: Sequence[int],
    evaluate: Callable[[np.ndarray], Mapping[str, Any]],
    *,
    deterministic: Iterable[str] = (),
    on_result: Callable[[str, int, Any, np.ndarray], None] | None = None,
    cache: dict | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    r"""Train and evaluate every model for every seed; return a tidy table.

    For each ``name, factory`` in ``factories`` and each ``seed`` in ``seeds``:
    ``obj = factory(seed)`` (train the model; it must return a fitted model with
    ``score_all_users()`` or a score matrix), ``scores = obj.score_all_users()``,
    ``metrics = evaluate(scores)``. Models listed in ``deterministic`` (no randomness: their
    result does not depend on the seed, e.g. popularity, item-kNN) run once, with
    ``seeds[0]``.

    The wall-clock and CPU time of ``factory(seed)`` are added as the metrics
    ``"fit_seconds"`` and ``"fit_cpu_seconds"`` (CPU time of the whole process, all
    threads: on a shared machine it is the fairer cost). ``on_result(name, seed, obj,
    scores)`` is called after each evaluation, so the caller can keep per-user metrics, a
    model for the case study, …; ``cache`` (a dict, see :func:`fit_cached`) reuses models
    already trained under the same ``(name, seed)``, with their recorded fit times; ``log``
    receives a one-line message per run; ``progress`` shows a tqdm bar over the runs.

    **Output**: ``pd.DataFrame`` with columns ``model``, ``seed``, ``metric``, ``value`` (one
    row per numeric metric; booleans and non-numbers are skipped), in run order.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    deterministic = set(deterministic)
    unknown = deterministic - set(factories)
    if unknown:
        raise ValueError(f"deterministic names not in factories: {sorted(unknown)}")
    plan = [(n, s) for n in factories for s in (seeds[:1] if n in deterministic else seeds)]
    rows = []
    from gnnrec_utils._progress import tqdm

    bar = tqdm(total=len(plan), desc="runs", disable=not progress, mininterval=1.0)
    for name, seed in plan:
        factory = factories[name]
        bar.set_postfix_str(f"{name}, seed {seed}")
        obj, wall, cpu = fit_cached(cache, name, seed, factory)
        scores = _scores_of(obj)
        metrics = dict(evaluate(scores))
        metrics["fit_seconds"] = wall
        metrics["fit_cpu_seconds"] = cpu
        for key, value in metrics.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                continue
            rows.append((name, seed, key, float(value)))
        if on_result is not None:
            on_result(name, seed, obj, scores)
        if log is not None:
            log(f"{name:<14} seed {seed}: fit {wall:6.1f} s wall, {cpu:6.1f} s CPU")
        bar.update(1)
    bar.close()
    return pd.DataFrame(rows, columns=["model", "seed", "metric", "value"])


def summarise_runs(
    table: pd.DataFrame, metrics: Sequence[str] | None = None, order: Sequence[str] | None = None
) -> pd.DataFrame:
    r"""Mean, standard deviation and number of runs per model and metric.

    .. math::
        \bar x = \frac1n \sum_{s=1}^{n} x_s, \qquad
        \mathrm{sd} = \sqrt{\frac{1}{n-1} \sum_{s=1}^{n} (x_s - \bar x)^2}

    over the seeds :math:`s` (sample standard deviation; 0 for a model run once — a
    deterministic model's result does not vary with the seed).

    **Input**: the tidy table of :func:`run_seeds`; ``metrics`` to keep (default: all, in
    order of first appearance); ``order`` of the models (default: order of appearance).

    **Output**: ``pd.DataFrame`` indexed by model with columns ``(metric, "mean")``,
    ``(metric, "std")`` and ``("n_runs", "")``.
    """
    if metrics is None:
        metrics = list(dict.fromkeys(table["metric"]))
    if order is None:
        order = list(dict.fromkeys(table["model"]))
    sub = table[table["metric"].isin(metrics)]
    grouped = sub.groupby(["model", "metric"], sort=False)["value"]
    mean = grouped.mean().unstack("metric")
    std = grouped.std(ddof=1).unstack("metric").fillna(0.0)
    n = sub.groupby("model", sort=False)["seed"].nunique()
    cols = {}
    for m in metrics:
        cols[(m, "mean")] = mean[m]
        cols[(m, "std")] = std[m]
    out = pd.DataFrame(cols).reindex(order)
    out[("n_runs", "")] = n.reindex(order).astype(int)
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "model"
    return out


def format_mean_sd(mean: float, sd: float, digits: int = 4) -> str:
    """``"0.3812 ± 0.0041"``: the one spelling of a mean and its standard deviation.

    Used by :func:`mean_sd` and :func:`format_mean_std`; tables elsewhere (benchmarks,
    notebooks) call it rather than writing their own. Taught in ``notebooks/06_evaluation.ipynb``.
    """
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def mean_sd(values, digits: int = 4) -> str:
    r"""Mean ± sample standard deviation of ``values`` over seeds, as :func:`format_mean_sd`.

    .. math:: \bar x \pm s, \qquad s = \sqrt{\tfrac{1}{n-1} \sum_k (x_k - \bar x)^2}

    (``ddof=1``, the spread of seeds; ``s = 0`` for a single value). **Input**: array-like
    ``(n,)``, ``n >= 1``, NaNs dropped. Taught in ``notebooks/06_evaluation.ipynb``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        raise ValueError("mean_sd needs at least one (non-NaN) value")
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return format_mean_sd(float(v.mean()), sd, digits)


def format_mean_std(summary: pd.DataFrame, metrics: Sequence[str], digits: int = 4) -> pd.DataFrame:
    """``"mean ± std"`` strings (:func:`format_mean_sd`) per model and metric, from
    :func:`summarise_runs`."""
    out = pd.DataFrame(index=summary.index)
    for m in metrics:
        mean, std = summary[(m, "mean")], summary[(m, "std")]
        out[m] = [format_mean_sd(a, b, digits) for a, b in zip(mean, std, strict=True)]
    out["runs"] = summary[("n_runs", "")]
    return out


# --------------------------------------------------------------------------------------------
# Paired significance between two models
# --------------------------------------------------------------------------------------------


def paired_comparison(
    a,
    b,
    *,
    n_bootstrap: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict:
    r"""Is model A better than model B on the same users? Paired tests and a bootstrap CI.

    With per-user values :math:`a_u, b_u` (e.g. NDCG@20) and :math:`d_u = a_u - b_u` over the
    :math:`n` users where both are defined:

    - **paired t-test**: :math:`t = \bar d / (s_d / \sqrt n)` with :math:`n-1` degrees of
      freedom (``scipy.stats.ttest_rel``);
    - **Wilcoxon signed-rank test** on :math:`d_u` (``scipy.stats.wilcoxon``; zero
      differences dropped, Wilcoxon's convention) — no normality assumption, which matters
      for NDCG, a bounded and skewed per-user quantity;
    - **bootstrap CI** of :math:`\bar d`: resample the users with replacement
      ``n_bootstrap`` times (``np.random.default_rng(seed)``) and take the
      :math:`\frac{1 \mp c}{2}` percentiles of the resampled means (percentile bootstrap,
      Efron & Tibshirani 1993).

    Users, not interactions, are the unit: the test items of one user are not independent.

    **Output**: dict with ``n``, ``mean_a``, ``mean_b``, ``mean_diff``, ``ci_low``,
    ``ci_high``, ``confidence``, ``t_stat``, ``t_pvalue``, ``wilcoxon_stat``,
    ``wilcoxon_pvalue``, ``share_a_better``, ``share_b_better`` (shares of users with
    :math:`d_u > 0` and :math:`< 0`).
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"a and b must be 1-D arrays of one length, got {x.shape} and {y.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    n = x.size
    if n < 2:
        raise ValueError(f"need at least 2 users with both values defined, got {n}")
    d = x - y
    rng = np.random.default_rng(seed)
    boot = np.empty(int(n_bootstrap))
    chunk = max(1, 2_000_000 // n)
    for start in range(0, boot.size, chunk):
        m = min(chunk, boot.size - start)
        idx = rng.integers(0, n, size=(m, n))
        boot[start : start + m] = d[idx].mean(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    with warnings.catch_warnings():  # constant differences: the tests return NaN, say so below
        warnings.simplefilter("ignore")
        t = stats.ttest_rel(x, y)
        if np.any(d != 0):
            w = stats.wilcoxon(x, y)
            w_stat, w_p = float(w.statistic), float(w.pvalue)
        else:
            w_stat, w_p = 0.0, 1.0
    return {
        "n": int(n),
        "mean_a": float(x.mean()),
        "mean_b": float(y.mean()),
        "mean_diff": float(d.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "confidence": float(confidence),
        "t_stat": float(t.statistic),
        "t_pvalue": float(t.pvalue) if math.isfinite(t.pvalue) else 1.0,
        "wilcoxon_stat": w_stat,
        "wilcoxon_pvalue": w_p,
        "share_a_better": float((d > 0).mean()),
        "share_b_better": float((d < 0).mean()),
    }


# --------------------------------------------------------------------------------------------
# Who is served: user-activity and item-popularity groups
# --------------------------------------------------------------------------------------------


def activity_groups(
    train_users,
    n_users: int,
    edges: tuple[float, float] | None = None,
    names: tuple[str, str, str] = ("cold", "medium", "heavy"),
) -> tuple[np.ndarray, tuple[float, float]]:
    r"""Split users into three activity groups by their number of training interactions.

    .. math::
        g(u) = \begin{cases} \text{cold} & d_u \le c_1 \\ \text{medium} & c_1 < d_u \le c_2
        \\ \text{heavy} & d_u > c_2 \end{cases}

    with :math:`d_u` the training degree. ``edges=None`` uses the **terciles** of the
    degrees, :math:`c_1, c_2` = ``np.quantile(d, [1/3, 2/3])`` (linear interpolation), so
    the groups hold about a third of the users each (users tied at an edge all fall into the
    lower group); pass fixed cut-offs, e.g. ``(30, 100)``, to compare data sets. Users
    without training interactions (:math:`d_u = 0`) are cold.

    **Output**: ``(labels, (c1, c2))``: a string array ``(n_users,)`` with one group name
    per user (every user in exactly one group) and the edges used.
    """
    deg = np.bincount(_ids(train_users, n_users, "train_users"), minlength=n_users)
    if edges is None:
        c1, c2 = (float(q) for q in np.quantile(deg, [1 / 3, 2 / 3]))
    else:
        c1, c2 = (float(e) for e in edges)
        if c1 > c2:
            raise ValueError(f"edges must be increasing, got {edges}")
    labels = np.where(deg <= c1, names[0], np.where(deg <= c2, names[1], names[2]))
    return labels.astype(object), (c1, c2)


def popularity_groups(
    train_items,
    n_items: int,
    shares: tuple[float, float] = (1 / 3, 2 / 3),
    names: tuple[str, str, str] = ("head", "mid", "tail"),
) -> tuple[np.ndarray, tuple[int, int]]:
    r"""Split items into head / mid / tail by training popularity, with equal interaction mass.

    Sort the items by training count, most popular first (ties: lower index first), and cut
    the cumulative share of interactions at ``shares``: the **head** is the smallest set of
    top items holding a third of all training interactions, the **mid** the next third, the
    **tail** the rest, including items never seen in training. Equal *mass* (not equal
    item counts) gives every group a comparable number of test positives, so per-group
    recall is comparably precise (the grouping of Abdollahpouri et al., 2019, in spirit).

    **Output**: ``(labels, (n_head, n_head + n_mid))``: a string array ``(n_items,)`` and the
    cut positions in the popularity order.
    """
    counts = np.bincount(_ids(train_items, n_items, "train_items"), minlength=n_items)
    order = np.argsort(-counts, kind="stable")
    cum = np.cumsum(counts[order]) / max(counts.sum(), 1)
    c1 = int(np.searchsorted(cum, shares[0] - 1e-12) + 1)
    c2 = int(np.searchsorted(cum, shares[1] - 1e-12) + 1)
    labels = np.empty(n_items, dtype=object)
    labels[order[:c1]] = names[0]
    labels[order[c1:c2]] = names[1]
    labels[order[c2:]] = names[2]
    return labels, (c1, c2)


def group_means(
    per_user: Mapping[str, np.ndarray], labels, order: Sequence[str] | None = None
) -> pd.DataFrame:
    """Mean of each per-user metric within each group (NaN users left out), plus group sizes.

    **Input**: ``per_user``: metric -> array ``(n_users,)`` (NaN where undefined), e.g.
    ``ComparisonEvaluator(..., per_user=True)``; ``labels`` ``(n_users,)`` group names.

    **Output**: ``pd.DataFrame`` indexed by group with one column per metric and
    ``n_users`` (users in the group with a defined value of the first metric).
    """
    labels = np.asarray(labels, dtype=object)
    if order is None:
        order = list(dict.fromkeys(labels.tolist()))
    keys = [k for k, v in per_user.items() if np.ndim(v) == 1]
    rows = {}
    for g in order:
        mask = labels == g
        row = {}
        for key in keys:
            v = np.asarray(per_user[key], dtype=np.float64)[mask]
            v = v[~np.isnan(v)]
            row[key] = float(v.mean()) if v.size else float("nan")
        first = np.asarray(per_user[keys[0]], dtype=np.float64)[mask]
        row["n_users"] = int((~np.isnan(first)).sum())
        rows[g] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "group"
    return out


def item_group_metrics(
    scores, evaluator: ComparisonEvaluator, item_labels, k: int = 20, order=None
) -> pd.DataFrame:
    r"""Recall and exposure per item-popularity group.

    For a group :math:`G` of items and user ``u``'s relevant items :math:`R(u)`:

    .. math::
        \mathrm{Recall@K}_G(u) = \frac{|\mathrm{top}_K(u) \cap R(u) \cap G|}{|R(u) \cap G|},
        \qquad
        \mathrm{exposure}_G = \frac{\sum_u |\mathrm{top}_K(u) \cap G|}{K \cdot |U|}

    the first averaged over the users with :math:`R(u) \cap G \neq \emptyset`; the second is
    the share of all recommendation slots that go to :math:`G`, to be read against
    ``test_share``, the share of the held-out positives that lie in :math:`G`.

    **Output**: ``pd.DataFrame`` indexed by group: ``recall@K``, ``exposure``,
    ``test_share``, ``n_items``.
    """
    labels = np.asarray(item_labels, dtype=object)
    if order is None:
        order = list(dict.fromkeys(labels.tolist()))
    rec = evaluator.top_k(scores, k)
    truth = evaluator.truth
    hits = np.take_along_axis(truth, rec, axis=1)
    rec_labels = labels[rec]
    rows = {}
    for g in order:
        in_g = labels == g
        rel_g = (truth & in_g[None, :]).sum(axis=1)
        hit_g = (hits & (rec_labels == g)).sum(axis=1)
        ok = rel_g > 0
        rows[g] = {
            f"recall@{k}": float((hit_g[ok] / rel_g[ok]).mean()) if ok.any() else float("nan"),
            "exposure": float((rec_labels == g).mean()),
            "test_share": float(rel_g.sum() / max(truth.sum(), 1)),
            "n_items": int(in_g.sum()),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "group"
    return out


# --------------------------------------------------------------------------------------------
# Case study: titles, genres, histories, lists and explanations
# --------------------------------------------------------------------------------------------


def genre_labels(items_table: pd.DataFrame, genres: Sequence[str] = GENRES, sep: str = "|"):
    """One ``"Action|Comedy"`` string per row of ``items_table`` (its genre flag columns)."""
    flags = items_table[list(genres)].to_numpy() != 0
    names = np.asarray(genres, dtype=object)
    return np.array([sep.join(names[row]) for row in flags], dtype=object)


def _item_frame(items_table: pd.DataFrame, item_idx, genres) -> pd.DataFrame:
    idx = np.asarray(item_idx, dtype=np.int64)
    sub = items_table.iloc[idx]
    return pd.DataFrame(
        {"item_idx": idx, "title": sub["title"].to_numpy(), "genres": genre_labels(sub, genres)}
    )


def user_history(
    user: int,
    train_users,
    train_items,
    items_table: pd.DataFrame,
    ratings=None,
    genres: Sequence[str] = GENRES,
) -> pd.DataFrame:
    """The training items of ``user`` with titles and genres (and ratings if given), best
    rated first (then by item index).

    **Input**: training pairs ``train_users``/``train_items`` (0-based) and optionally their
    ``ratings``; ``items_table`` with row ``k`` describing item index ``k`` (``items.tsv``
    of notebook 01: ``title`` and one 0/1 column per genre).
    """
    tu = np.asarray(train_users)
    ti = np.asarray(train_items)
    mask = tu == int(user)
    out = _item_frame(items_table, ti[mask], genres)
    if ratings is not None:
        out.insert(1, "rating", np.asarray(ratings)[mask])
        out = out.sort_values(["rating", "item_idx"], ascending=[False, True], kind="stable")
    else:
        out = out.sort_values("item_idx", kind="stable")
    return out.reset_index(drop=True)


def top_k_table(
    scores_row,
    items_table: pd.DataFrame,
    k: int = 10,
    exclude_items=(),
    item_popularity=None,
    genres: Sequence[str] = GENRES,
) -> pd.DataFrame:
    """One user's top-``k`` list (masked items removed) with titles, genres and scores.

    **Input**: ``scores_row`` ``(n_items,)``; ``exclude_items``: item indices never
    recommended (the user's training and validation items); ``item_popularity`` adds a
    ``popularity`` column (training interactions).

    **Output**: ``pd.DataFrame`` with ``rank`` (1-based), ``item_idx``, ``title``, ``genres``,
    ``score`` (and ``popularity``), best first; ties broken towards the lower item index.
    """
    s = np.asarray(scores_row, dtype=np.float64)[None, :]
    ex = np.zeros_like(s, dtype=bool)
    ex[0, np.asarray(list(exclude_items), dtype=np.int64)] = True
    rec = top_k_items(s, k, ex)[0]
    out = _item_frame(items_table, rec, genres)
    out.insert(0, "rank", np.arange(1, k + 1))
    out["score"] = s[0, rec]
    if item_popularity is not None:
        out["popularity"] = np.asarray(item_popularity)[rec]
    return out


def why_recommended(
    model,
    user: int,
    item: int,
    items_table: pd.DataFrame,
    top: int = 3,
    genres: Sequence[str] = GENRES,
) -> pd.DataFrame | None:
    r"""The past items that contribute most to the score of ``item`` for ``user``.

    Uses ``model.explain(user, item)`` when the model has one (``LightGCN.explain``,
    :meth:`ItemKNN.explain`): an exact split of the score into one term per item in the
    user's history (:math:`\sum_j c_j + \text{rest} = s_{ui}`). Returns None for a model
    without ``explain`` (its score cannot be attributed to past items exactly).

    **Output**: ``pd.DataFrame`` of the ``top`` largest contributions: ``item_idx``,
    ``title``, ``genres``, ``contribution`` and ``share`` (contribution / score).
    """
    if not hasattr(model, "explain"):
        return None
    e = model.explain(int(user), int(item))
    past = np.asarray(e["past_items"], dtype=np.int64)
    contrib = np.asarray(e["past_item_contrib"], dtype=np.float64)
    order = np.lexsort((past, -contrib))[:top]
    out = _item_frame(items_table, past[order], genres)
    out["contribution"] = contrib[order]
    score = float(e["score"])
    out["share"] = contrib[order] / score if score != 0 else np.nan
    return out
