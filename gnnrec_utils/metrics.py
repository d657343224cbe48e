r"""Ranking and beyond-accuracy metrics for top-K recommendation: pure, vectorised NumPy.

Everything here is NumPy (SciPy for sparse inputs and for ranks); nothing imports TensorFlow,
reads files or knows about models, so a student can read this module on its own.

Conventions
-----------
- ``scores``: dense float array of shape ``(n_users, n_items)``; a higher score means the item
  is ranked higher. NaN scores are rejected (``ValueError``); ``±inf`` are allowed.
- ``truth``: the held-out relevant items, shape ``(n_users, n_items)``, as a boolean or 0/1
  array or a ``scipy.sparse`` matrix (CSR, COO …); any value other than 0/1 is an error (a
  ratings matrix must be thresholded explicitly). :math:`R(u)` is the set of user ``u``'s
  relevant items.
- ``exclude`` (optional, same shape and types as ``truth``): items masked out before ranking,
  i.e. the user's training items, plus the validation items when evaluating on test. Masking
  sets their scores to :math:`-\infty`, and an excluded item never enters a top-K list, even
  when a candidate item itself scores :math:`-\infty`. Excluded items are not candidates for
  AUC either. ``truth`` and ``exclude`` must not overlap (an item cannot be both held out and
  masked); every user needs at least ``k`` non-excluded items.
- Ties are broken deterministically and stably: among equal scores the lower item index
  ranks first. The ranking of a user is therefore a total order, and the top-``k`` list is
  the first ``k`` entries of the top-``K`` list for every ``k <= K``.
- ``rec``: top-K lists, an integer array of shape ``(n_users, k)`` of item ids, best first,
  no repeated item within a list (what :func:`top_k_items` returns).
- :math:`\mathrm{rel}_u(r) \in \{0, 1\}` says whether the item at rank ``r`` (1-based) of
  user ``u``'s list is relevant.

Users with empty ground truth (policy)
--------------------------------------
Every accuracy metric is undefined for a user with :math:`R(u) = \emptyset` (recall and NDCG
divide by zero, and a precision of 0 would penalise the model for a user with nothing to
find). So such a user's per-user value is NaN, and the mean over users is taken over the
users with at least one relevant item only. If no user has any relevant item the mean is NaN
(returned, not warned about). :func:`evaluate_ranking` reports how many users entered the
means as ``"n_users"``. Per-user AUC is also NaN for a user with no negative candidate
(every non-excluded item relevant); such users leave the AUC mean too.

Means are unweighted over users (LightGCN, RecBole). Per-user arrays (``per_user=True``)
are the input for paired significance tests between two models.

Speed (measured on the course machine, 2 CPU cores, NumPy 2.4, random float64 943 × 1,682
scores, 5 % of the entries excluded, median of 20 runs): :func:`top_k_items` with ``k=20``
takes about 25 ms (``np.argpartition`` alone about 18 ms, a full ``np.argsort`` about 85 ms);
:func:`evaluate_ranking` with ``ks=(10, 20)`` and its six default metrics about 35 ms (about
0.2 s with ``"auc"`` added, which ranks every item).

Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``, which trains the
first recommenders and needs to evaluate them).
"""

from __future__ import annotations

from gnnrec_utils.graph import interaction_matrix, interaction_union

import inspect
import operator
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

__all__ = [
    "TOP_K_METRICS",
    "top_k_items",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "hit_rate_at_k",
    "mrr_at_k",
    "map_at_k",
    "auc",
    "evaluate_ranking",
    "catalogue_coverage",
    "novelty",
    "intra_list_diversity",
    "average_recommendation_popularity",
    "gini",
    "gini_of_exposure",
    "personalisation",
    "EVAL_BATCH_BYTES",
    "RankingEvaluator",
    "full_ranking_metrics",
    "rating_errors",
]

#: Names of the top-K accuracy metrics understood by :func:`evaluate_ranking`.
TOP_K_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "hit_rate", "mrr", "map")

# --------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------


def _as_scores(scores) -> np.ndarray:
    if sp.issparse(scores):
        raise ValueError("scores must be a dense array of shape (n_users, n_items), not sparse")
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float64)
    if np.isnan(s).any():
        raise ValueError(f"scores contain {int(np.isnan(s).sum())} NaN value(s)")
    return s


def _as_indicator(x, name: str, shape: tuple[int, int]) -> np.ndarray:
    """A dense boolean matrix from a boolean / 0-1 dense or sparse matrix of ``shape``."""
    if sp.issparse(x):
        if x.shape != shape:
            raise ValueError(
                f"{name} has shape {x.shape}, expected {shape} (the shape of scores: "
                "n_users × n_items)"
            )
        x = sp.csr_matrix(x)
        values = x.data
        if values.dtype != bool and not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0/1 (or booleans)")
        return x.astype(bool).toarray()
    a = np.asarray(x)
    if a.shape != shape:
        raise ValueError(
            f"{name} has shape {a.shape}, expected {shape} (the shape of scores: n_users × n_items)"
        )
    if a.dtype != bool:
        if not ((a == 0) | (a == 1)).all():
            raise ValueError(f"{name} must hold only 0/1 (or booleans)")
        a = a != 0
    return a


def _check_n(n, name: str) -> int:
    """``n`` as a Python int ``>= 1`` (booleans and floats refused)."""
    try:
        if isinstance(n, bool):
            raise TypeError
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return n


def _check_k(k, n_items: int, name: str = "k") -> int:
    """A list length ``k``: :func:`_check_n`, and at most ``n_items``."""
    k = _check_n(k, name)
    if k > n_items:
        raise ValueError(f"{name}={k} is larger than the number of items ({n_items})")
    return k


def _as_rec(rec, n_items: int) -> np.ndarray:
    """Validated top-K lists: 2-D integer ids in ``[0, n_items)``, no repeats within a list."""
    r = np.asarray(rec)
    if r.ndim != 2:
        raise ValueError(f"rec must be 2-D (n_users, k), got shape {r.shape}")
    if r.size and not np.issubdtype(r.dtype, np.integer):
        raise ValueError(f"rec must hold integer item ids, got dtype {r.dtype}")
    r = r.astype(np.int64, copy=False)
    if r.shape[1] < 1:
        raise ValueError("rec lists must hold at least one item (k >= 1), got k = 0")
    if r.shape[1] > n_items:
        raise ValueError(f"rec lists have k={r.shape[1]} items, more than n_items={n_items}")
    bad = (r < 0) | (r >= n_items)
    if bad.any():
        u, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{int(bad.sum())} item id(s) in rec outside [0, {n_items}); first: rec[{u}, {j}] "
            f"= {int(r[u, j])}"
        )
    if r.shape[1] > 1:
        srt = np.sort(r, axis=1)
        dup = (srt[:, 1:] == srt[:, :-1]).any(axis=1)
        if dup.any():
            raise ValueError(
                f"{int(dup.sum())} rec list(s) repeat an item; first: user {int(np.argmax(dup))}"
            )
    return r


def _as_counts(x, name: str) -> np.ndarray:
    """A non-empty 1-D float64 vector of finite, non-negative values (popularity, exposure)."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {v.shape}")
    if v.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative values")
    return v


def _user_mean(values: np.ndarray) -> float:
    """Mean over the users whose value is defined (not NaN); NaN if there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def _result(values: np.ndarray, per_user: bool):
    return values if per_user else _user_mean(values)


# --------------------------------------------------------------------------------------------
# Top-K extraction
# --------------------------------------------------------------------------------------------


def _top_k(s: np.ndarray, k: int, ex: np.ndarray | None) -> np.ndarray:
    """Top-``k`` item ids per row of ``s`` (validated inputs), best first, ties → lower id."""
    n_users, n_items = s.shape
    if ex is not None:
        n_cand = n_items - np.count_nonzero(ex, axis=1)
        short = n_cand < k
        if short.any():
            u = int(np.argmax(short))
            raise ValueError(
                f"{int(short.sum())} user(s) have fewer than k={k} items left after exclusion; "
                f"first: user {u} with {int(n_cand[u])}"
            )
        s = np.where(ex, -np.inf, s)
    if n_users == 0:
        return np.empty((0, k), dtype=np.int64)
    # The k-th largest score of each row; every item above it is in the top k, and the
    # remaining places go to the tied items with the lowest ids. (np.argpartition alone would
    # pick among items tied at the boundary in an unspecified order.)
    thr = np.partition(s, n_items - k, axis=1)[:, n_items - k, None]
    take = s > thr
    need = k - np.count_nonzero(take, axis=1)
    tied = s == thr
    if ex is not None:
        tied &= ~ex  # a -inf candidate ties with the masked items; only candidates may fill
    n_tied = np.count_nonzero(tied, axis=1)
    rows = np.flatnonzero(n_tied > need)  # more tied items than places: keep the lowest ids
    if rows.size:
        sub = tied[rows]
        sub &= np.cumsum(sub, axis=1) <= need[rows, None]
        tied[rows] = sub
    take |= tied
    # Row-major nonzero lists each row's k items in ascending id order, so a stable sort on
    # the negated score puts the lower id first among equal scores.
    cols = np.nonzero(take)[1].reshape(n_users, k)
    order = np.argsort(-np.take_along_axis(s, cols, axis=1), axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


def top_k_items(scores, k: int, exclude=None) -> np.ndarray:
    r"""The ``k`` highest-scoring items of every user, best first.

    .. math::
        \mathrm{top}_K(u) = (i_1, \dots, i_K), \quad
        (s_{u i_1}, -i_1) \succ (s_{u i_2}, -i_2) \succ \dots \quad
        i_r \notin \mathrm{exclude}(u)

    i.e. items sorted by decreasing score, the lower item id first among equal scores.

    **Input**

    - ``scores``: float array ``(n_users, n_items)``;
    - ``exclude``: optional boolean / 0-1 dense or sparse ``(n_users, n_items)``, the items
      never to recommend (training items …).

    **Output**

    - ``np.ndarray`` of shape ``(n_users, k)``, int64 item ids, no repeats within a row.

    **Arguments**

    - ``k``: list length, ``1 <= k <= n_items``; every user needs at least ``k``
      non-excluded items (``ValueError`` otherwise, naming the first such user).

    The k-th largest score per user comes from ``np.partition`` (linear time), ties at that
    boundary are resolved by item id, and only the ``k`` selected items are sorted, so the cost
    is :math:`O(n_\text{users}\,(n_\text{items} + K \log K))` rather than a full sort. Measured
    on the course machine: about 25 ms for 943 × 1,682 and ``k=20`` with 5 % excluded
    (``np.argpartition`` alone about 18 ms; a full stable ``argsort`` about 85 ms).

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    s = _as_scores(scores)
    k = _check_k(k, s.shape[1])
    ex = None if exclude is None else _as_indicator(exclude, "exclude", s.shape)
    return _top_k(s, k, ex)


# --------------------------------------------------------------------------------------------
# Accuracy at K
# --------------------------------------------------------------------------------------------


def _prepare(scores, truth, exclude):
    s = _as_scores(scores)
    t = _as_indicator(truth, "truth", s.shape)
    ex = None if exclude is None else _as_indicator(exclude, "exclude", s.shape)
    if ex is not None:
        both = t & ex
        if both.any():
            u, i = np.argwhere(both)[0]
            raise ValueError(
                f"truth and exclude overlap in {int(both.sum())} entr(y/ies), first: user {u}, "
                f"item {i}; a held-out item cannot also be masked out"
            )
    return s, t, ex


def _hits(scores, truth, k, exclude):
    """``hits[u, r-1] = rel_u(r)`` for the top-``k`` lists, and ``|R(u)|`` per user."""
    s, t, ex = _prepare(scores, truth, exclude)
    k = _check_k(k, s.shape[1])
    rec = _top_k(s, k, ex)
    return np.take_along_axis(t, rec, axis=1), np.count_nonzero(t, axis=1)


def _from_hits(name: str, hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """Per-user metric ``name`` from the hit matrix ``(n_users, k)``; NaN where |R(u)| = 0."""
    k = hits.shape[1]
    defined = n_rel > 0
    n_hits = np.count_nonzero(hits, axis=1)
    if name == "precision":
        out = n_hits / k
    elif name == "recall":
        out = n_hits / np.maximum(n_rel, 1)
    elif name == "ndcg":
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        idcg = np.cumsum(discount)[np.clip(n_rel, 1, k) - 1]
        # A row-wise sum, not ``hits @ discount``: BLAS may add a row's terms in an order that
        # depends on the number of rows, and a user's NDCG must not depend on the batch.
        out = np.sum(hits * discount, axis=1) / idcg
    elif name == "hit_rate":
        out = (n_hits > 0).astype(np.float64)
    elif name == "mrr":
        first = np.argmax(hits, axis=1)
        out = np.where(n_hits > 0, 1.0 / (first + 1), 0.0)
    elif name == "map":
        precision_at_r = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        out = (precision_at_r * hits).sum(axis=1) / np.clip(n_rel, 1, k)
    else:  # pragma: no cover - names are checked by the callers
        raise ValueError(f"unknown metric {name!r}")
    out = out.astype(np.float64)
    out[~defined] = np.nan
    return out


def precision_at_k(scores, truth, k: int, exclude=None, per_user: bool = False):
    r"""Precision at K: the share of the top-K list that is relevant.

    .. math::
        \mathrm{P@K}(u) = \frac{1}{K} \sum_{r=1}^{K} \mathrm{rel}_u(r), \qquad
        \mathrm{P@K} = \frac{1}{|U^+|} \sum_{u \in U^+} \mathrm{P@K}(u)

    with :math:`U^+` the users with at least one relevant item.

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape; ``k`` with ``1 <= k <= n_items``.

    **Output**: a float in ``[0, min(1, max_u |R(u)| / K)]`` (the mean), or with
    ``per_user=True`` a float array ``(n_users,)`` with NaN for users with no relevant item.

    LightGCN (He et al., 2020) and RecBole (Zhao et al., 2021) definition.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    hits, n_rel = _hits(scores, truth, k, exclude)
    return _result(_from_hits("precision", hits, n_rel), per_user)


def recall_at_k(scores, truth, k: int, exclude=None, per_user: bool = False):
    r"""Recall at K: the share of the relevant items that made the top-K list.

    .. math::
        \mathrm{R@K}(u) = \frac{1}{|R(u)|} \sum_{r=1}^{K} \mathrm{rel}_u(r)

    Its maximum for a user is :math:`\min(1, K / |R(u)|)`: it is 1 for a perfect ranking
    when :math:`|R(u)| \le K`.

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape; ``k`` with ``1 <= k <= n_items``.

    **Output**: a float in ``[0, 1]`` (mean over users with :math:`|R(u)| \ge 1`), or with
    ``per_user=True`` a float array ``(n_users,)`` with NaN for users with no relevant item.

    The headline metric of LightGCN (He et al., 2020, Recall@20); RecBole's definition.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    hits, n_rel = _hits(scores, truth, k, exclude)
    return _result(_from_hits("recall", hits, n_rel), per_user)


def ndcg_at_k(scores, truth, k: int, exclude=None, per_user: bool = False):
    r"""Normalised discounted cumulative gain at K, binary relevance.

    .. math::
        \mathrm{DCG@K}(u) = \sum_{r=1}^{K} \frac{\mathrm{rel}_u(r)}{\log_2(r + 1)}, \qquad
        \mathrm{IDCG@K}(u) = \sum_{r=1}^{\min(|R(u)|, K)} \frac{1}{\log_2(r + 1)}, \qquad
        \mathrm{NDCG@K}(u) = \frac{\mathrm{DCG@K}(u)}{\mathrm{IDCG@K}(u)}

    The ideal list puts :math:`\min(|R(u)|, K)` relevant items on top, so a perfect ranking
    scores 1 whatever :math:`|R(u)|`. For binary relevance this equals
    ``sklearn.metrics.ndcg_score(truth, scores, k=K)`` (without exclusion and ties).

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape; ``k`` with ``1 <= k <= n_items``.

    **Output**: a float in ``[0, 1]``, or with ``per_user=True`` a float array
    ``(n_users,)`` with NaN for users with no relevant item.

    Järvelin & Kekäläinen (2002); as in LightGCN (He et al., 2020, NDCG@20) and RecBole.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    hits, n_rel = _hits(scores, truth, k, exclude)
    return _result(_from_hits("ndcg", hits, n_rel), per_user)


def hit_rate_at_k(scores, truth, k: int, exclude=None, per_user: bool = False):
    r"""Hit rate at K: whether the top-K list holds at least one relevant item.

    .. math::
        \mathrm{HR@K}(u) = \mathbb{1}\Big[\sum_{r=1}^{K} \mathrm{rel}_u(r) > 0\Big]

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape; ``k`` with ``1 <= k <= n_items``.

    **Output**: a float in ``[0, 1]`` (the share of users with a hit), or with
    ``per_user=True`` an array ``(n_users,)`` of 0.0/1.0 with NaN for users with no relevant
    item.

    RecBole's ``Hit``.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    hits, n_rel = _hits(scores, truth, k, exclude)
    return _result(_from_hits("hit_rate", hits, n_rel), per_user)


def mrr_at_k(scores, truth, k: int, exclude=None, per_user: bool = False):
    r"""Mean reciprocal rank at K: one over the rank of the first relevant item, 0 if none.

    .. math::
        \mathrm{RR@K}(u) = \begin{cases} 1 / r_u^* & \text{if } r_u^* \le K \\
                           0 & \text{otherwise} \end{cases}, \qquad
        r_u^* = \min\{r : \mathrm{rel}_u(r) = 1\}

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape; ``k`` with ``1 <= k <= n_items``.

    **Output**: a float in ``[0, 1]``, or with ``per_user=True`` a float array
    ``(n_users,)`` with NaN for users with no relevant item.

    RecBole's ``MRR``.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    hits, n_rel = _hits(scores, truth, k, exclude)
    return _result(_from_hits("mrr", hits, n_rel), per_user)


def map_at_k(scores, truth, k: int, exclude=None, per_user: bool = False):
    r"""Mean average precision at K.

    .. math::
        \mathrm{AP@K}(u) = \frac{1}{\min(|R(u)|, K)} \sum_{r=1}^{K}
        \mathrm{P@r}(u)\,\mathrm{rel}_u(r)

    Denominator convention (RecBole's ``MAP``): :math:`\min(|R(u)|, K)`, the largest number
    of hits a list of length K can hold, so a perfect ranking scores 1 even when
    :math:`|R(u)| > K`. (Dividing by :math:`|R(u)|` instead, as some libraries do, caps such
    a user below 1; dividing by the number of hits rewards short lucky lists.)

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape; ``k`` with ``1 <= k <= n_items``.

    **Output**: a float in ``[0, 1]``, or with ``per_user=True`` a float array
    ``(n_users,)`` with NaN for users with no relevant item.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    hits, n_rel = _hits(scores, truth, k, exclude)
    return _result(_from_hits("map", hits, n_rel), per_user)


def _auc_per_user(s: np.ndarray, t: np.ndarray, ex: np.ndarray | None) -> np.ndarray:
    cand = np.ones(s.shape, dtype=bool) if ex is None else ~ex
    # Average ranks (1 = lowest score) among each user's candidates; excluded items are NaN
    # and get no rank.
    masked = np.where(cand, s, np.nan).astype(np.float64, copy=False)
    ranks = rankdata(masked, axis=1, nan_policy="omit") if s.size else masked
    n_pos = t.sum(axis=1).astype(np.float64)
    n_neg = cand.sum(axis=1) - n_pos
    rank_sum = np.where(t, ranks, 0.0).sum(axis=1)
    defined = (n_pos > 0) & (n_neg > 0)
    out = np.full(s.shape[0], np.nan)
    out[defined] = (rank_sum[defined] - n_pos[defined] * (n_pos[defined] + 1) / 2) / (
        n_pos[defined] * n_neg[defined]
    )
    return out


def auc(scores, truth, exclude=None, per_user: bool = False):
    r"""Per-user area under the ROC curve: the share of (relevant, other) pairs ranked right.

    .. math::
        \mathrm{AUC}(u) = \frac{1}{|R(u)|\,|N(u)|} \sum_{i \in R(u)} \sum_{j \in N(u)}
        \Big(\mathbb{1}[s_{ui} > s_{uj}] + \tfrac{1}{2}\,\mathbb{1}[s_{ui} = s_{uj}]\Big)
        = \frac{\sum_{i \in R(u)} \mathrm{rank}_u(i) - |R(u)|(|R(u)| + 1)/2}{|R(u)|\,|N(u)|}

    :math:`N(u)` are the user's non-excluded, non-relevant items and
    :math:`\mathrm{rank}_u(i)` is the ascending average rank (ties share the mean rank) of
    item ``i`` among the non-excluded items: the Mann-Whitney form, computed for all users at
    once. Ties count 1/2, so constant scores give 0.5. Not truncated at K.

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape.

    **Output**: a float in ``[0, 1]`` (0.5 = random), the unweighted mean over users with
    at least one relevant and one negative item; with ``per_user=True`` a float array
    ``(n_users,)``, NaN for users without a relevant or without a negative item. (RecBole's
    ``GAUC`` weights users by :math:`|R(u)|`; this is the plain mean, as in BPR.)

    The evaluation of BPR (Rendle et al., 2009).

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    s, t, ex = _prepare(scores, truth, exclude)
    return _result(_auc_per_user(s, t, ex), per_user)


def evaluate_ranking(
    scores,
    truth,
    exclude=None,
    ks=(10, 20),
    metrics=TOP_K_METRICS,
    per_user: bool = False,
) -> dict:
    r"""Several accuracy metrics at several K from one top-K extraction.

    **Input**: ``scores`` ``(n_users, n_items)``; ``truth`` and optional ``exclude``, boolean /
    0-1 dense or sparse of the same shape.

    **Output**: a ``dict`` with one entry ``"<metric>@<k>"`` per metric and K, in the order
    of ``metrics`` then ``ks`` (e.g. ``"recall@10"``, ``"recall@20"``, ``"ndcg@10"`` …), plus
    ``"auc"`` when asked for, each a float (the mean over users, see the module's policy for
    empty ground truth) or, with ``per_user=True``, a float array ``(n_users,)``; and
    ``"n_users"``: the number of users with at least one relevant item, i.e. the users the
    means are taken over.

    **Arguments**

    - ``ks``: an int or an iterable of ints, each ``1 <= k <= n_items``;
    - ``metrics``: names from :data:`TOP_K_METRICS` (``"precision"``, ``"recall"``,
      ``"ndcg"``, ``"hit_rate"``, ``"mrr"``, ``"map"``) and optionally ``"auc"``;
    - ``per_user``: return per-user arrays instead of means.

    The top-K lists are computed once, for the largest K; the lists for smaller K are their
    prefixes (the tie-breaking makes each user's ranking a total order), so every entry
    equals what the single-metric function returns. Measured on the course machine for
    943 × 1,682 with ``ks=(10, 20)`` and the six default metrics: about 35 ms (about 0.2 s
    with ``"auc"``).

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in TOP_K_METRICS + ("auc",)]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {list(TOP_K_METRICS) + ['auc']}"
        )
    if not metrics:
        raise ValueError("metrics is empty")
    s, t, ex = _prepare(scores, truth, exclude)
    n_rel = np.count_nonzero(t, axis=1)
    out: dict = {}
    top_k_names = [m for m in metrics if m != "auc"]
    if top_k_names:
        ks = (ks,) if np.ndim(ks) == 0 else tuple(ks)
        if not ks:
            raise ValueError("ks is empty")
        ks = tuple(_check_k(k, s.shape[1], "ks entry") for k in ks)
        rec = _top_k(s, max(ks), ex)
        hits = np.take_along_axis(t, rec, axis=1)
    for name in metrics:
        if name == "auc":
            out["auc"] = _result(_auc_per_user(s, t, ex), per_user)
            continue
        for k in ks:
            out[f"{name}@{k}"] = _result(_from_hits(name, hits[:, :k], n_rel), per_user)
    out["n_users"] = int((n_rel > 0).sum())
    return out


# --------------------------------------------------------------------------------------------
# Beyond accuracy
# --------------------------------------------------------------------------------------------


def catalogue_coverage(rec, n_items: int) -> float:
    r"""Catalogue coverage: the share of the catalogue recommended to at least one user.

    .. math::
        \mathrm{Coverage} = \frac{\big|\bigcup_{u \in U} L_u\big|}{|I|}

    with :math:`L_u` user ``u``'s list and :math:`I` the catalogue.

    **Input**: ``rec`` int ``(n_users, k)``; ``n_items``: catalogue size.

    **Output**: a float in ``[0, min(1, n_users * k / n_items)]``; 0.0 when there are no users.

    Ge, Delgado-Battenfeld & Jannach (2010), "Beyond accuracy"; RecBole's ``ItemCoverage``.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    n_items = _check_n(n_items, "n_items")
    r = _as_rec(rec, n_items)
    return float(np.unique(r).size / n_items)


def novelty(rec, item_popularity, n_users: int, per_user: bool = False):
    r"""Novelty: the mean self-information of the recommended items.

    .. math::
        \mathrm{Nov}(u) = \frac{1}{K} \sum_{i \in L_u} -\log_2
        \frac{\max(\mathrm{pop}_i, 1)}{|U|}, \qquad
        \mathrm{Nov} = \frac{1}{|U_\mathrm{rec}|} \sum_u \mathrm{Nov}(u)

    :math:`\mathrm{pop}_i` is the number of users who interacted with item ``i`` in the
    training data and :math:`|U|` = ``n_users`` the number of training users, so
    :math:`\mathrm{pop}_i / |U|` is the probability that a random user knows the item.

    **Items nobody interacted with** (:math:`\mathrm{pop}_i = 0`, infinite self-information):
    the count is clipped at 1, i.e. such an item is as novel as one seen by a single user.
    Clipping (rather than add-one smoothing) leaves the value of every item seen in training
    exactly as the textbook formula gives it.

    **Input**: ``rec`` int ``(n_users_rec, k)``; ``item_popularity`` ``(n_items,)``
    non-negative counts, each at most ``n_users``; ``n_users`` >= 1.

    **Output**: a float in ``[0, log2(n_users)]`` bits (0 = only items everybody knows), or
    with ``per_user=True`` a float array ``(n_users_rec,)``.

    Zhou et al. (2010), "Solving the apparent diversity-accuracy dilemma", PNAS.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    pop = _as_counts(item_popularity, "item_popularity")
    n_users = _check_n(n_users, "n_users")
    if (pop > n_users).any():
        raise ValueError(
            f"item_popularity exceeds n_users={n_users} for {int((pop > n_users).sum())} "
            "item(s); popularity must count distinct training users"
        )
    r = _as_rec(rec, pop.size)
    information = -np.log2(np.maximum(pop, 1.0) / n_users)
    return _result(information[r].mean(axis=1), per_user)


def intra_list_diversity(rec, item_features, per_user: bool = False):
    r"""Intra-list diversity: the mean pairwise cosine distance between a list's items.

    .. math::
        \mathrm{ILD}(u) = \frac{2}{K(K-1)} \sum_{a < b} \big(1 - \cos(f_{i_a}, f_{i_b})\big),
        \qquad \cos(x, y) = \frac{x^\top y}{\lVert x \rVert\,\lVert y \rVert}

    Vectorised through :math:`\sum_{a<b} \hat f_a^\top \hat f_b =
    \tfrac12\big(\lVert \sum_a \hat f_a \rVert^2 - \sum_a \lVert \hat f_a \rVert^2\big)` with
    unit-normalised features :math:`\hat f`.

    **Zero-vector items** (e.g. a movie without genres): their cosine similarity with every
    item, another zero vector included, is defined as 0, so they are at distance 1.

    **Input**: ``rec`` int ``(n_users, k)`` with ``k >= 2``; ``item_features``
    ``(n_items, d)`` dense or sparse (e.g. the genre multi-hot matrix; densified).

    **Output**: a float in ``[0, 2]`` — ``[0, 1]`` for non-negative features such as
    multi-hot genres (0 = all items alike) — the mean over users, or with ``per_user=True`` a
    float array ``(n_users,)``.

    Ziegler et al. (2005), "Improving recommendation lists through topic diversification".

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    f = item_features.toarray() if sp.issparse(item_features) else np.asarray(item_features)
    f = f.astype(np.float64, copy=False)
    if f.ndim != 2:
        raise ValueError(f"item_features must be 2-D (n_items, d), got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("item_features must be finite")
    r = _as_rec(rec, f.shape[0])
    k = r.shape[1]
    if k < 2:
        raise ValueError("intra-list diversity needs lists of k >= 2 items")
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    unit = np.divide(f, norms, out=np.zeros_like(f), where=norms > 0)
    e = unit[r]  # (n_users, k, d)
    total = e.sum(axis=1)
    pair_sim = ((total * total).sum(axis=1) - (e * e).sum(axis=(1, 2))) / 2
    ild = 1.0 - pair_sim / (k * (k - 1) / 2)
    return _result(ild, per_user)


def average_recommendation_popularity(rec, item_popularity, per_user: bool = False):
    r"""Average recommendation popularity (ARP): the mean popularity of the recommended items.

    .. math::
        \mathrm{ARP}(u) = \frac{1}{K} \sum_{i \in L_u} \mathrm{pop}_i, \qquad
        \mathrm{ARP} = \frac{1}{|U|} \sum_u \mathrm{ARP}(u)

    **Input**: ``rec`` int ``(n_users, k)``; ``item_popularity`` ``(n_items,)`` non-negative
    (training interaction counts per item).

    **Output**: a float in ``[min(pop), max(pop)]``, or with ``per_user=True`` a float array
    ``(n_users,)``. Lower means less popularity bias.

    Abdollahpouri, Burke & Mobasher (2019), "Managing popularity bias in recommender systems
    with personalized re-ranking", FLAIRS.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    pop = _as_counts(item_popularity, "item_popularity")
    r = _as_rec(rec, pop.size)
    return _result(pop[r].mean(axis=1), per_user)


def gini(x) -> float:
    r"""The Gini coefficient of a non-negative vector (0 = all equal).

    .. math::
        G(x) = \frac{\sum_{i=1}^{n} \sum_{j=1}^{n} |x_i - x_j|}{2 n \sum_{i=1}^{n} x_i}
             = \frac{\sum_{i=1}^{n} (2i - n - 1)\, x_{(i)}}{n \sum_{i=1}^{n} x_i}

    with :math:`x_{(1)} \le \dots \le x_{(n)}` sorted ascending (the second form is what is
    computed, in :math:`O(n \log n)`). No :math:`n/(n-1)` correction: a constant vector gives
    0, a one-hot vector gives :math:`(n-1)/n`, which tends to 1. An all-zero vector gives 0
    (nothing to distribute unequally).

    **Input**: ``x`` array-like ``(n,)``, ``n >= 1``, finite, non-negative.

    **Output**: a float in ``[0, (n - 1) / n]``.

    The same formula as RecBole's ``GiniIndex``.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    v = _as_counts(x, "the input of gini")
    total = v.sum()
    if total == 0:
        return 0.0
    n = v.size
    srt = np.sort(v)
    # Subtracting the minimum leaves the numerator unchanged (the weights sum to 0) and makes
    # a constant vector give exactly 0.
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    return float(weights @ (srt - srt[0]) / (n * total))


def gini_of_exposure(rec, n_items: int) -> float:
    r"""Gini coefficient of item exposure: how unequally the lists share out the catalogue.

    .. math::
        c_i = \big|\{u : i \in L_u\}\big|, \qquad \mathrm{Gini} = G(c_0, \dots, c_{|I|-1})

    with :math:`G` from :func:`gini`, over every item in the catalogue (items never
    recommended count with :math:`c_i = 0`).

    **Input**: ``rec`` int ``(n_users, k)``; ``n_items``: catalogue size.

    **Output**: a float in ``[0, (n_items - 1) / n_items]``: 0 = every item recommended
    equally often, towards 1 = all exposure on one item.

    Fleder & Hosanagar (2009), "Blockbuster culture's next rise or fall"; RecBole's
    ``GiniIndex``.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    n_items = _check_n(n_items, "n_items")
    r = _as_rec(rec, n_items)
    return gini(np.bincount(r.ravel(), minlength=n_items))


def personalisation(rec, n_items: int, similarity: str = "cosine") -> float:
    r"""Personalisation: one minus the mean overlap between two users' lists.

    .. math::
        \mathrm{Pers} = 1 - \frac{2}{|U|(|U|-1)} \sum_{u < v} \mathrm{sim}(L_u, L_v), \qquad
        \mathrm{sim}_\text{cos} = \frac{|L_u \cap L_v|}{\sqrt{|L_u|\,|L_v|}} =
        \frac{|L_u \cap L_v|}{K}, \quad
        \mathrm{sim}_\text{Jaccard} = \frac{|L_u \cap L_v|}{|L_u \cup L_v|}

    The overlaps :math:`|L_u \cap L_v|` are the entries of :math:`M M^\top` for the sparse
    user × item indicator matrix :math:`M` of the lists; only the non-zero ones are visited.

    **Input**: ``rec`` int ``(n_users, k)``, ``n_users >= 2``; ``n_items``: catalogue size;
    ``similarity``: ``"cosine"`` (default; for equal-length lists it is Zhou et al.'s
    :math:`1 - q/K`) or ``"jaccard"``.

    **Output**: a float in ``[0, 1]``: 0 = every user gets the same list, 1 = no two lists
    share an item.

    Zhou et al. (2010), "Solving the apparent diversity-accuracy dilemma", PNAS.

    Taught in ``notebooks/06_evaluation.ipynb`` (defined for ``notebooks/03``).
    """
    if similarity not in ("cosine", "jaccard"):
        raise ValueError(f"similarity must be 'cosine' or 'jaccard', got {similarity!r}")
    n_items = _check_n(n_items, "n_items")
    r = _as_rec(rec, n_items)
    n_users, k = r.shape
    if n_users < 2:
        raise ValueError(f"personalisation needs at least 2 users, got {n_users}")
    m = sp.csr_matrix(
        (np.ones(r.size), (np.repeat(np.arange(n_users), k), r.ravel())),
        shape=(n_users, n_items),
    )
    overlap = sp.triu(m @ m.T, k=1).tocoo()
    inter = overlap.data
    sim = inter / k if similarity == "cosine" else inter / (2 * k - inter)
    return float(1.0 - sim.sum() / (n_users * (n_users - 1) / 2))


# --------------------------------------------------------------------------------------------
# Full-ranking evaluation of a model or a score matrix, in batches of users
# --------------------------------------------------------------------------------------------

#: Default working memory of one :class:`RankingEvaluator` batch (bytes): 256 MiB holds all
#: 943 MovieLens-100K users in one batch, and about 160 users of a 50,000-item catalogue.
EVAL_BATCH_BYTES = 256 * 2**20


class RankingEvaluator:
    r"""Full-ranking metrics of a score matrix (or a model) against one held-out set.

    **Arguments**

    - ``truth``: ``(users, items)`` of the held-out positives (0-based);
    - ``exclude``: a sequence of ``(users, items)`` pairs of arrays masked out before ranking
      — the training interactions for validation; training and validation for test;
    - ``n_users``, ``n_items``; ``ks`` and ``metrics`` as in
      :func:`gnnrec_utils.metrics.evaluate_ranking` (default: Recall, NDCG, Precision, Hit
      rate, MRR and MAP at 10 and 20);
    - ``batch_users``: users ranked per batch (default: as many as fit in ``max_batch_bytes``);
    - ``max_batch_bytes``: the working memory one batch may use (default
      :data:`EVAL_BATCH_BYTES`, 256 MiB).

    **Call** with a score matrix ``(n_users, n_items)`` or a model with
    ``score_all_users(users=None)``; returns ``{"recall@20": …, "ndcg@20": …, …,
    "n_users": …}``. ``per_user=True`` returns per-user arrays ``(n_users,)`` (NaN for users
    without held-out items).

    **Attributes**: ``truth`` and ``exclude`` (boolean CSR ``(n_users, n_items)``), ``users``
    (the users with at least one held-out item: the only rows ranked), ``batch_users``.

    **Memory.** Only the users in ``users`` are ranked, ``batch_users`` rows at a time: each
    batch densifies its rows of ``truth`` and ``exclude`` and, for a model, asks it for
    ``score_all_users(users=batch)``, so the dense working set is about
    ``batch_users × n_items × 32`` bytes (``× 80`` with ``"auc"``, which ranks every item)
    whatever the number of users; the masks are stored sparse. Every metric is computed per
    user, so the result is exactly the one-shot :func:`~gnnrec_utils.metrics.evaluate_ranking`
    on the dense matrices (tested for equality). A catalogue so large that one user's row does
    not fit in ``max_batch_bytes`` is refused with a ``MemoryError`` naming the sizes. Measured
    peaks (MovieLens-100K; 100,000 users × 50,000 items) are in ``docs/robustness.md``.
    """

    def __init__(
        self,
        truth: tuple,
        n_users: int,
        n_items: int,
        exclude: Sequence[tuple] = (),
        ks: Iterable[int] = (10, 20),
        metrics: Sequence[str] = TOP_K_METRICS,
        batch_users: int | None = None,
        max_batch_bytes: int | None = None,
    ):
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.truth = interaction_matrix(
            *truth, self.n_users, self.n_items, duplicates="collapse"
        ).astype(bool)
        self.exclude = interaction_union(exclude, self.n_users, self.n_items).astype(bool)
        overlap = self.truth.multiply(self.exclude)
        if overlap.nnz:
            raise ValueError(f"{overlap.nnz} held-out pair(s) are also in an excluded set")
        self.ks = (ks,) if np.ndim(ks) == 0 else tuple(ks)
        self.metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        self.users = np.flatnonzero(np.diff(self.truth.indptr) > 0)
        budget = EVAL_BATCH_BYTES if max_batch_bytes is None else int(max_batch_bytes)
        per_user = self.n_items * (80 if "auc" in self.metrics else 32)
        if batch_users is None:
            if per_user > budget:
                raise MemoryError(
                    f"ranking one user's {self.n_items:,} items needs about "
                    f"{per_user / 2**20:,.0f} MiB, more than max_batch_bytes = "
                    f"{budget / 2**20:,.0f} MiB; raise max_batch_bytes if the machine has the "
                    "memory, or evaluate on a smaller catalogue"
                )
            batch_users = budget // per_user
        if int(batch_users) < 1:
            raise ValueError(f"batch_users must be >= 1, got {batch_users!r}")
        self.batch_users = int(batch_users)

    def _batches(self):
        """The evaluated users, ``batch_users`` at a time (one empty batch if there are none)."""
        if self.users.size == 0:
            yield self.users
        for start in range(0, self.users.size, self.batch_users):
            yield self.users[start : start + self.batch_users]

    def _row_source(self, scores):
        """A function ``rows(batch) -> (len(batch), n_items)`` scores, for a model or a matrix."""
        if hasattr(scores, "score_all_users"):
            method = scores.score_all_users
            try:
                takes_users = "users" in inspect.signature(method).parameters
            except (TypeError, ValueError):  # builtins without a signature
                takes_users = False
            if takes_users:
                return lambda batch: method(users=batch)
            scores = method()
        if sp.issparse(scores):
            raise ValueError("scores must be a dense array of shape (n_users, n_items), not sparse")
        s = np.asarray(scores)
        if s.shape != (self.n_users, self.n_items):
            raise ValueError(
                f"scores have shape {s.shape}, expected (n_users, n_items) = "
                f"{(self.n_users, self.n_items)}"
            )
        return lambda batch: s[batch]

    def _check_candidates(self) -> None:
        """Every evaluated user needs at least max(ks) items left after exclusion."""
        if not self.ks or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in self.ks
        ):
            return  # evaluate_ranking names the bad ks entry
        k = int(max(self.ks))
        n_cand = self.n_items - np.diff(self.exclude.indptr)[self.users]
        short = n_cand < k
        if short.any() and k <= self.n_items:
            first = int(np.argmax(short))
            raise ValueError(
                f"{int(short.sum())} user(s) have fewer than k={k} items left after exclusion; "
                f"first: user {int(self.users[first])} with {int(n_cand[first])}"
            )

    def __call__(self, scores, per_user: bool = False) -> dict:
        rows = self._row_source(scores)
        self._check_candidates()
        full: dict[str, np.ndarray] = {}
        n_evaluated = 0
        for batch in self._batches():
            s = rows(batch)
            if np.shape(s) != (batch.size, self.n_items):
                raise ValueError(
                    f"score_all_users(users=…) returned shape {np.shape(s)} for "
                    f"{batch.size} user(s), expected {(batch.size, self.n_items)}"
                )
            part = evaluate_ranking(
                s,
                self.truth[batch].toarray(),
                self.exclude[batch].toarray(),
                ks=self.ks,
                metrics=self.metrics,
                per_user=True,
            )
            n_evaluated += part.pop("n_users")
            for key, values in part.items():
                if key not in full:
                    full[key] = np.full(self.n_users, np.nan)
                full[key][batch] = values
        out = {key: (values if per_user else _user_mean(values)) for key, values in full.items()}
        out["n_users"] = n_evaluated
        return out


def full_ranking_metrics(
    scores,
    truth: tuple,
    exclude: Sequence[tuple] = (),
    ks: Iterable[int] = (10, 20),
) -> dict:
    """One-shot version of :class:`RankingEvaluator` for a ``(n_users, n_items)`` matrix."""
    s = np.asarray(scores)
    return RankingEvaluator(truth, s.shape[0], s.shape[1], exclude, ks)(s)


def rating_errors(pred, truth) -> dict:
    r"""Rating prediction errors.

    .. math::
        \mathrm{RMSE} = \sqrt{\tfrac1n \textstyle\sum (\hat r - r)^2}, \qquad
        \mathrm{MAE} = \tfrac1n \textstyle\sum |\hat r - r|

    **Output**: ``{"rmse": float, "mae": float}``.
    """
    err = np.asarray(pred, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    if err.size == 0:
        raise ValueError("no ratings to compare")
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}
