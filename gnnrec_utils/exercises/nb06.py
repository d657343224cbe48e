"""Exercise checks for notebook 06 (evaluation and the case study).

Each check recomputes the expected answer with plain code of its own (loops and NumPy, no
:mod:`gnnrec_utils.metrics` or :mod:`gnnrec_utils.experiments`) and names the typical mistake
when the answer differs.
"""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok

from collections.abc import Mapping

import numpy as np

__all__ = [
    "check_sampled_negatives",
    "check_intra_list_diversity",
    "check_paired_difference",
    "check_fixed_activity_groups",
]


def _close(x, y, tol: float = 1e-6) -> bool:
    try:
        return bool(np.isclose(float(x), float(y), rtol=tol, atol=tol))
    except (TypeError, ValueError):
        return False


# Exercise 6.1 ---------------------------------------------------------------------------------


def _plain_sampled(scores, users, items, negatives, k: int = 10) -> dict:
    """Sampled NDCG@k and HR@k by a loop over users, averaged per user and per pair."""
    s = np.asarray(scores)
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], users.size]
    ndcg_user, hr_user, ndcg_pairs = [], [], []
    for a, b in zip(starts, ends, strict=True):
        u = users[a]
        pos = items[a:b]
        neg = negatives[u]
        ps, ns = s[u, pos][:, None], s[u, neg][None, :]
        rank = 1 + ((ns > ps) | ((ns == ps) & (neg[None, :] < pos[:, None]))).sum(axis=1)
        ndcg = np.where(rank <= k, 1.0 / np.log2(rank + 1.0), 0.0)
        ndcg_user.append(ndcg.mean())
        hr_user.append((rank <= k).mean())
        ndcg_pairs.append(ndcg)
    return {
        "ndcg": float(np.mean(ndcg_user)),
        "hr": float(np.mean(hr_user)),
        "ndcg_pair": float(np.concatenate(ndcg_pairs).mean()),
    }


def check_sampled_negatives(
    negatives, answer, scores: Mapping, test, known, n_negatives: int = 500, k: int = 10
) -> bool:
    """Exercise 6.1: ``n_negatives`` unknown items per user and the sampled NDCG@k per model.

    ``negatives``: the drawn sets ``(n_users, n_negatives)``; ``answer``: model -> sampled
    NDCG@k; ``scores``: model -> score matrix ``(n_users, n_items)``; ``test``: the
    ``(users, items)`` test pairs; ``known``: the ``(users, items)`` pairs a negative must
    avoid (training, validation and test).
    """
    neg = np.asarray(negatives)
    first = np.asarray(next(iter(scores.values())))
    n_users, n_items = first.shape
    if neg.ndim != 2 or neg.shape[0] != n_users:
        _fail("6.1", f"negatives have shape {neg.shape}", f"one row per user: ({n_users}, m)")
    if neg.shape[1] != n_negatives:
        _fail(
            "6.1",
            f"{neg.shape[1]} negatives per user",
            f"draw n_negatives={n_negatives} (section 1.4 used 100)",
        )
    if not np.issubdtype(neg.dtype, np.integer) or neg.min() < 0 or neg.max() >= n_items:
        _fail("6.1", "negatives are not item indices", f"integers in [0, {n_items})")
    srt = np.sort(neg, axis=1)
    if (srt[:, 1:] == srt[:, :-1]).any():
        _fail(
            "6.1",
            "some user has the same negative twice",
            "draw without replacement (ev.sample_negatives does)",
        )
    test_u, test_i = (np.asarray(x, dtype=np.int64) for x in test)
    is_test = np.zeros((n_users, n_items), dtype=bool)
    is_test[test_u, test_i] = True
    if is_test[np.arange(n_users)[:, None], neg].any():
        _fail(
            "6.1",
            "some sampled negatives are the user's held-out test items",
            "a negative must be unknown in every split: pass [train, valid, test] as known",
        )
    is_known = np.zeros((n_users, n_items), dtype=bool)
    for ku, ki in known:
        is_known[np.asarray(ku, dtype=np.int64), np.asarray(ki, dtype=np.int64)] = True
    if is_known[np.arange(n_users)[:, None], neg].any():
        _fail(
            "6.1",
            "some sampled negatives are items the user interacted with in training or validation",
            "pass [train, valid, test] as the known pairs to ev.sample_negatives",
        )
    if not isinstance(answer, Mapping) or set(answer) != set(scores):
        got = sorted(answer) if isinstance(answer, Mapping) else type(answer).__name__
        _fail("6.1", f"the answer holds {got}", f"a dict with one value per model: {list(scores)}")
    for name, s in scores.items():
        want = _plain_sampled(s, test_u, test_i, neg, k)
        got = answer[name]
        if _close(got, want["ndcg"]):
            continue
        if _close(got, want["hr"]):
            _fail("6.1", f"{name}: that is the sampled hit rate", f"the exercise asks NDCG@{k}")
        if _close(got, want["ndcg_pair"]):
            _fail(
                "6.1",
                f"{name}: {float(got):.4f} is the mean over test pairs",
                "average over each user's test items first, then over users (every user "
                "counts once, as in full ranking)",
            )
        _fail(
            "6.1",
            f"{name}: sampled NDCG@{k} {got!r}, expected {want['ndcg']:.4f} with these negatives",
            f"ev.sampled_ranking_metrics(scores, test, negatives, ks=({k},))['ndcg@{k}'] — "
            "with the new negatives, not those of section 1.4",
        )
    depth = round(n_items * k / (n_negatives + 1))
    return _ok(
        "6.1",
        f"{n_negatives} unknown items per user; sampled NDCG@{k} of {len(scores)} models "
        f"(the sampled top {k} now stands for about the top {depth} of the catalogue)",
    )


# Exercise 6.2 ---------------------------------------------------------------------------------


def _plain_ild(rec, features, mode: str = "right") -> np.ndarray:
    """Per-list ILD by a loop over pairs; ``mode`` reproduces a typical mistake."""
    f = np.asarray(features, dtype=np.float64)
    out = []
    for row in np.asarray(rec):
        k = len(row)
        total, pairs = 0.0, 0
        for a in range(k):
            for b in range(k):
                if mode != "self" and b <= a:
                    continue
                x, y = f[row[a]], f[row[b]]
                if mode == "raw":
                    sim = x @ y
                elif mode == "jaccard":
                    union = np.maximum(x, y).sum()
                    sim = np.minimum(x, y).sum() / union if union > 0 else 0.0
                else:
                    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
                    sim = x @ y / (nx * ny) if nx > 0 and ny > 0 else 0.0
                total += 1.0 - sim
                pairs += 1
        out.append(total / (k * k if mode in ("self", "k2") else pairs))
    return np.array(out)


def _ild_cases(rec, item_features):
    """Small lists that separate the typical mistakes, one with a genre-less item, then the
    notebook's own lists."""
    f = np.array(
        [
            [1, 0, 0, 0],  # 0
            [1, 0, 0, 0],  # 1: same genre as 0
            [0, 1, 0, 0],  # 2: orthogonal to 0
            [1, 1, 0, 0],  # 3: two genres
            [1, 1, 1, 0],  # 4: three genres
            [0, 0, 0, 0],  # 5: no genre at all
            [0, 0, 1, 1],  # 6
        ],
        dtype=np.float64,
    )
    cases = [
        ("a toy catalogue (4 genres)", np.array([[0, 1, 2], [3, 4, 0], [0, 2, 6], [3, 4, 6]]), f),
        ("lists with a genre-less item", np.array([[0, 5, 2], [5, 3, 4]]), f),
    ]
    if rec is not None:
        cases.append(("the notebook's lists", np.asarray(rec), item_features))
    return cases


def check_intra_list_diversity(ild_fn, rec=None, item_features=None) -> bool:
    """Exercise 6.2: ``ild_fn(rec, features)`` -> per-list mean pairwise cosine distance.

    The check calls ``ild_fn`` on a toy catalogue built to separate the typical mistakes
    (self-pairs, K² in the denominator, unnormalised dot products, Jaccard, similarity
    instead of distance), on lists with an item without genres (cosine 0 by convention), and
    on ``rec`` / ``item_features`` when given (the notebook's lists), comparing with a plain
    loop over pairs.
    """
    for where, r, f in _ild_cases(rec, item_features):
        zero_item = bool((np.abs(np.asarray(f)[r]).sum(axis=-1) == 0).any())
        try:
            with np.errstate(all="ignore"):
                got = np.asarray(ild_fn(r, f), dtype=np.float64)
        except Exception as err:  # the student's code: any error becomes feedback
            problem = f"on {where} ild_fn raises {type(err).__name__}: {err}"
            _fail(
                "6.2",
                problem,
                "define the cosine with a zero vector as 0 (distance 1)"
                if zero_item
                else "try it on a list of three items by hand",
            )
        if got.shape != (len(r),):
            _fail(
                "6.2",
                f"on {where} it returned shape {got.shape}",
                f"one value per list: shape ({len(r)},) — do not average over the users",
            )
        want = _plain_ild(r, f)
        if np.allclose(got, want, atol=1e-6):
            continue
        if np.isnan(got).any():
            _fail(
                "6.2",
                f"on {where} some values are NaN (0/0 in the cosine of a genre-less item?)",
                "define the cosine with a zero vector as 0 (distance 1), as the exercise says",
            )
        if np.allclose(got, 1.0 - want, atol=1e-6):
            _fail("6.2", "you return the similarity", "ILD is a distance: average 1 - cos")
        if np.allclose(got, _plain_ild(r, f, "self"), atol=1e-6):
            _fail(
                "6.2",
                "the pairs include each item with itself (distance 0), which lowers ILD",
                "average over the K(K-1)/2 pairs a < b of distinct positions",
            )
        if np.allclose(got, _plain_ild(r, f, "k2"), atol=1e-6):
            _fail("6.2", "the sum over pairs a < b is divided by K²", "divide by K(K-1)/2")
        if np.allclose(got, _plain_ild(r, f, "raw"), atol=1e-6):
            _fail(
                "6.2",
                "the similarity is the raw dot product of the genre vectors (a film with "
                "three genres is then 'more than identical' to itself)",
                "divide by the two vector norms: cos = x·y / (‖x‖ ‖y‖)",
            )
        if np.allclose(got, _plain_ild(r, f, "jaccard"), atol=1e-6):
            _fail("6.2", "that is the Jaccard distance", "use the cosine of the genre vectors")
        worst = int(np.argmax(np.abs(got - want)))
        hint = "ILD(u) = 2/(K(K-1)) · Σ_{a<b} (1 - cos(f_a, f_b)) for each list"
        if zero_item:
            hint += "; the cosine with a genre-less item is 0 (distance 1)"
        _fail(
            "6.2",
            f"on {where}, list {worst} ({r[worst][:5].tolist()}…) gives {got[worst]:.4f}, "
            f"expected {want[worst]:.4f}",
            hint,
        )
    n = "" if rec is None else f" and on all {len(rec)} lists of the notebook"
    return _ok("6.2", f"ILD agrees with the plain definition on the toy lists{n}")


# Exercise 6.3 ---------------------------------------------------------------------------------


def check_paired_difference(result, runs_a, runs_b, excludes_zero) -> bool:
    """Exercise 6.3: the paired comparison of A minus B on seed-averaged per-user values.

    ``result``: the dict of ``ev.paired_comparison``; ``runs_a`` / ``runs_b``: one per-user
    array per seed for each model (NaN where undefined); ``excludes_zero``: the answer to
    "does the 95 % CI exclude 0?".
    """
    needed = ("mean_diff", "ci_low", "ci_high")
    if not isinstance(result, Mapping) or any(k not in result for k in needed):
        _fail(
            "6.3",
            "the result lacks mean_diff / ci_low / ci_high",
            "keep the dict returned "
            "by ev.paired_comparison(a, b, n_bootstrap=N_BOOTSTRAP, seed=SEED)",
        )
    A = np.atleast_2d(np.asarray(runs_a, dtype=np.float64))
    B = np.atleast_2d(np.asarray(runs_b, dtype=np.float64))
    a, b = A.mean(axis=0), B.mean(axis=0)
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    got = float(result["mean_diff"])
    if not _close(got, d.mean(), 1e-9):
        if _close(got, -d.mean(), 1e-9):
            _fail("6.3", "the sign is reversed", "pass GCN + MF first: A − B = GCN+MF − LightGCN")
        for s in range(A.shape[0]):
            both = ~(np.isnan(A[s]) | np.isnan(B[s]))
            if _close(got, (A[s] - B[s])[both].mean(), 1e-9):
                _fail(
                    "6.3",
                    f"that is the difference of one seed (run {s})",
                    "average each user's NDCG@20 over the seeds first (user_mean)",
                )
        _fail(
            "6.3",
            f"mean difference {got:.5f}, expected {d.mean():.5f}",
            "per-user NDCG@20 of both models, averaged over the seeds, on the same users",
        )
    lo, hi = float(result["ci_low"]), float(result["ci_high"])
    se = d.std(ddof=1) / np.sqrt(d.size)
    width = hi - lo
    if not lo <= got <= hi:
        _fail(
            "6.3",
            f"the interval [{lo:.4f}, {hi:.4f}] does not contain the mean difference",
            "percentiles 2.5 and 97.5 of the bootstrap means",
        )
    if width > 10 * 2 * 1.96 * se:
        _fail(
            "6.3",
            f"the interval [{lo:+.4f}, {hi:+.4f}] is as wide as the spread of the per-user "
            "differences",
            "a CI of the *mean*: take percentiles of the means of resampled users",
        )
    if not 0.75 < width / (2 * 1.96 * se) < 1.33:
        _fail(
            "6.3",
            f"the interval width {width:.4f} is far from 2 x 1.96 x s_d/sqrt(n) = "
            f"{2 * 1.96 * se:.4f}",
            "resample the n users with replacement many times (n_bootstrap=N_BOOTSTRAP)",
        )
    truth = bool(lo > 0 or hi < 0)
    if not isinstance(excludes_zero, (bool, np.bool_)):
        _fail("6.3", f"excludes_zero is {excludes_zero!r}", "True or False")
    if bool(excludes_zero) != truth:
        _fail(
            "6.3",
            f"the interval [{lo:+.4f}, {hi:+.4f}] {'excludes' if truth else 'contains'} 0",
            "compare ci_low and ci_high with 0",
        )
    verdict = "excludes 0: a systematic difference" if truth else "contains 0: no evidence"
    return _ok("6.3", f"difference {got:+.4f}, 95 % CI [{lo:+.4f}, {hi:+.4f}] {verdict}")


# Exercise 6.4 ---------------------------------------------------------------------------------


def check_fixed_activity_groups(groups, gain, train_users, ndcg_a, ndcg_b, edges=(30, 100)) -> bool:
    """Exercise 6.4: users grouped at fixed cut-offs and the relative gain of A over B per group.

    ``groups``: one label per user (cold / medium / heavy); ``gain``: group -> relative gain
    of model A over model B in mean per-user NDCG@20; ``train_users``: the user of every
    training interaction; ``ndcg_a``, ``ndcg_b``: per-user NDCG@20 (seed means).
    """
    a = np.asarray(ndcg_a, dtype=np.float64)
    b = np.asarray(ndcg_b, dtype=np.float64)
    n_users = a.size
    degree = np.bincount(np.asarray(train_users, dtype=np.int64), minlength=n_users)
    names = ("cold", "medium", "heavy")
    c1, c2 = edges
    want = np.where(degree <= c1, names[0], np.where(degree <= c2, names[1], names[2]))
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (n_users,):
        _fail("6.4", f"groups has shape {labels.shape}", f"one label per user: ({n_users},)")
    if not (labels == want).all():
        strict = np.where(degree < c1, names[0], np.where(degree < c2, names[1], names[2]))
        q1, q2 = np.quantile(degree, [1 / 3, 2 / 3])
        tercile = np.where(degree <= q1, names[0], np.where(degree <= q2, names[1], names[2]))
        if (labels == strict).all():
            _fail(
                "6.4",
                f"users with exactly {c1} or {c2} training interactions are in the upper group",
                f"the cut-offs belong to the lower group: cold d <= {c1}, medium {c1} < d <= {c2}",
            )
        if (labels == tercile).all():
            _fail("6.4", "these are the tercile groups of section 3.1", f"pass edges={edges}")
        wrong = int((labels != want).sum())
        _fail(
            "6.4",
            f"{wrong} users are in another group than their training degree says",
            "count training interactions only: ev.activity_groups(train[0], n_users, "
            f"edges={edges})",
        )
    if not isinstance(gain, Mapping) or set(gain) != set(names):
        _fail("6.4", "fixed_gain needs one entry per group", f"keys {list(names)}")
    for g in names:
        m = want == g
        ma, mb = np.nanmean(a[m]), np.nanmean(b[m])
        right = (ma - mb) / mb
        got = gain[g]
        if _close(got, right):
            continue
        if _close(got, ma - mb):
            _fail("6.4", f"{g}: that is the absolute difference", "divide by BPR-MF's mean")
        if _close(got, (ma - mb) / ma):
            _fail("6.4", f"{g}: relative to LightGCN", "divide by BPR-MF's mean, the baseline")
        with np.errstate(all="ignore"):
            per_user = np.nanmean(((a - b) / b)[m & (b > 0)])
        if _close(got, per_user):
            _fail(
                "6.4",
                f"{g}: a mean of per-user ratios",
                "the ratio of the group means: (mean A - mean B) / mean B",
            )
        _fail(
            "6.4",
            f"{g}: gain {got!r}, expected {right:+.4f}",
            "(mean LightGCN NDCG@20 - mean BPR-MF NDCG@20) / mean BPR-MF, over the group",
        )
    counts = ", ".join(f"{g} {int((want == g).sum())}" for g in names)
    largest = max(names, key=lambda g: gain[g])
    return _ok(
        "6.4",
        f"groups at d <= {c1} / <= {c2} ({counts} users); the relative gain is largest for "
        f"the {largest} users",
    )
