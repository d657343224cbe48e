"""Exercise checks for notebook 03 (MF / GCN recommendation).

- 3.1 :func:`check_listing_repair`: the article's listing with a dot product and biases;
- 3.2 :func:`check_popularity_sampler`: negatives drawn with probability ∝ (c_j + 1)^α;
- 3.3 :func:`check_last_layer`: LightGCN scoring with the last layer Â^K E⁽⁰⁾ only;
- 3.4 :func:`check_fold_in_subsets`: m random training items per user for fold-in;
- 3.5 :func:`check_sampled_softmax`: section 3.4a's from-scratch LightGCN trained with a sampled
  softmax over M negatives instead of BPR.

The checks use NumPy/SciPy only (no TensorFlow import): models are called, or read through
their attributes, duck-typed.
"""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

__all__ = [
    "check_listing_repair",
    "check_popularity_sampler",
    "check_last_layer",
    "check_fold_in_subsets",
    "check_sampled_softmax",
]

# --------------------------------------------------------------------------------------------
# Exercise 3.1: the listing with a dot product and biases
# --------------------------------------------------------------------------------------------


def _call_pairs(model: Callable, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The model's output for the pairs, fed as ids of shape ``(b,)`` or else ``(b, 1)``."""
    users, items = users.astype(np.int32), items.astype(np.int32)
    try:
        out = model([users, items])
    except Exception:  # noqa: BLE001 — a model written for (b, 1) ids, like the listing
        out = model([users[:, None], items[:, None]])
    return np.asarray(out, dtype=np.float64)


def check_listing_repair(model: Callable, test: tuple, test_ratings, train_ratings) -> bool:
    """Exercise 3.1: one rating per pair, with a user-item interaction, better than the mean.

    Args:
        model: the trained model, called as ``model([user_ids, item_ids])`` (ids of shape
            ``(b,)`` or ``(b, 1)``; a Keras model or any callable).
        test: ``(users, items)`` of the held-out ratings (0-based).
        test_ratings: their ratings; ``train_ratings``: the training ratings (for the
            global-mean baseline).
    """
    users, items = (np.asarray(a, dtype=np.int64) for a in test)
    truth = np.asarray(test_ratings, dtype=np.float64)
    out = _call_pairs(model, users, items)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1 or out.shape[0] != users.size:
        _fail(
            "3.1",
            f"the model returns an array of shape {out.shape} for {users.size} pairs, not one "
            "rating per pair (the listing's 10-vector is still there?)",
            "reduce the product over the embedding axis: tf.reduce_sum(e_u * e_i, axis=-1), "
            "then add the biases",
        )
    if not np.isfinite(out).all():
        _fail("3.1", "some predictions are not finite", "lower the learning rate")
    # Additive models (f(u) + g(i)) give every user the same ranking: s(u, i) - s(u0, i)
    # does not depend on i. Probe a small grid of users and items.
    grid_u = np.unique(users)[:12]
    grid_i = np.unique(items)[:40]
    uu, ii = np.meshgrid(grid_u, grid_i, indexing="ij")
    grid = _call_pairs(model, uu.ravel(), ii.ravel()).reshape(-1)
    if grid.size != uu.size:
        _fail("3.1", "the model's output does not have one value per pair", "see above")
    grid = grid.reshape(uu.shape)
    spread = (grid - grid[:1]).std(axis=1).max()
    if spread <= 1e-6 * max(1.0, np.abs(grid).max()):
        _fail(
            "3.1",
            "the score is still a user term plus an item term: every user gets the same ranking",
            "users and items must interact — score with the dot product e_u · e_i (plus b_u + "
            "b_i + μ), not with a sum or mean of separate user and item terms",
        )
    rmse = float(np.sqrt(np.mean((out - truth) ** 2)))
    mean_rmse = float(np.sqrt(np.mean((np.mean(train_ratings) - truth) ** 2)))
    if not rmse < mean_rmse:
        _fail(
            "3.1",
            f"test RMSE {rmse:.4f} is no better than predicting the global mean ({mean_rmse:.4f})",
            "start from the global mean (add μ to the output, biases initialised at 0) and "
            "train a few epochs with Adam on the MSE",
        )
    return _ok(
        "3.1",
        f"one rating per pair, users and items interact; test RMSE {rmse:.4f} "
        f"(global mean {mean_rmse:.4f})",
    )


# --------------------------------------------------------------------------------------------
# Exercise 3.2: popularity-aware negative sampling
# --------------------------------------------------------------------------------------------

_N_DRAWS = 300_000


def _positives(users, items, n_users: int, n_items: int) -> np.ndarray:
    pos = np.zeros((n_users, n_items), dtype=bool)
    pos[users, items] = True
    return pos


def _expected_frequency(
    weights: np.ndarray, positives: np.ndarray, draws_per_user: np.ndarray
) -> np.ndarray:
    """Item frequencies of ``p(j | u) ∝ weights_j`` over the user's non-positives, pooled."""
    w = np.where(positives, 0.0, weights[None, :])
    w /= w.sum(axis=1, keepdims=True)
    return draws_per_user @ w / draws_per_user.sum()


def _uniform_redraw_frequency(
    weights: np.ndarray, positives: np.ndarray, draws_per_user: np.ndarray
) -> np.ndarray:
    """The frequencies when rejected draws are redrawn *uniformly* (a typical slip)."""
    p = weights / weights.sum()
    rejected = (positives * p[None, :]).sum(axis=1, keepdims=True)
    keep = np.where(positives, 0.0, p[None, :])
    uniform = np.where(positives, 0.0, 1.0)
    uniform /= uniform.sum(axis=1, keepdims=True)
    per_user = keep + rejected * uniform
    return draws_per_user @ per_user / draws_per_user.sum()


def _tv(a: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * np.abs(a - b).sum())


def _tv_noise(p: np.ndarray, n: int) -> float:
    """The total variation distance expected from sampling noise alone (n draws from p)."""
    return float(0.5 * np.sum(np.sqrt(2 * p * (1 - p) / (np.pi * n))))


def _grouped(freq: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return np.array([freq[g].sum() for g in groups])


def _diagnose_distribution(alpha, freq_g, counts, positives, per_user, groups, tolerance):
    """Name the most likely slip behind a wrong item distribution, then fail."""
    grid = np.round(np.arange(-2.0, 3.001, 0.05), 2)
    fits = [
        _tv(freq_g, _grouped(_expected_frequency((counts + 1) ** a, positives, per_user), groups))
        for a in grid
    ]
    best, best_fit = float(grid[int(np.argmin(fits))]), min(fits)
    slip = _uniform_redraw_frequency((counts + 1.0) ** alpha, positives, per_user)
    slip_fit = _tv(freq_g, _grouped(slip, groups))
    if alpha > 0 and slip_fit <= tolerance and slip_fit < best_fit:
        _fail(
            "3.2",
            f"with alpha={alpha} the first draw follows (c_j + 1)^alpha but the rejected ones "
            "are redrawn uniformly",
            "redraw the rejected negatives from the same popularity distribution",
        )
    no_smoothing = _expected_frequency(counts**alpha, positives, per_user)
    if alpha > 0 and _tv(freq_g, _grouped(no_smoothing, groups)) <= tolerance:
        _fail(
            "3.2",
            f"with alpha={alpha} the draws follow c_j^alpha: the +1 is missing, so films "
            "without training interactions are never drawn",
            "weight item j by (c_j + 1) ** alpha",
        )
    if best_fit <= tolerance:
        if alpha > 0 and abs(best) < 0.025:
            _fail(
                "3.2",
                f"with alpha={alpha} the negatives are uniform: alpha is ignored",
                "weight item j by (c_j + 1) ** alpha, then normalise to sum to 1",
            )
        if best < 0:
            _fail(
                "3.2",
                f"with alpha={alpha} rare items are drawn more often than popular ones (the "
                f"draws follow (c_j + 1)^{best:g})",
                "popularity-aware negatives make popular items MORE likely: (c_j + 1) ** alpha, "
                "not ** -alpha",
            )
        _fail(
            "3.2",
            f"with alpha={alpha} the draws follow (c_j + 1)^{best:g} instead of "
            f"(c_j + 1)^{alpha:g}",
            "use alpha itself as the exponent of (c_j + 1)",
        )
    _fail(
        "3.2",
        f"with alpha={alpha} the item frequencies do not follow p(j | u) ∝ (c_j + 1)^alpha over "
        "the user's non-positives",
        "count c_j on the training items, normalise the weights to probabilities, draw with "
        "searchsorted on their cumulative sum (or rng.choice(p=…)), redraw the positives",
    )


def check_popularity_sampler(sampler_class, users, items, n_users: int, n_items: int) -> bool:
    r"""Exercise 3.2: a negative sampler with :math:`p(j \mid u) \propto (c_j + 1)^\alpha`.

    ``sampler_class(users, items, n_users, n_items, alpha=α)`` must return an object whose
    ``sample(users, rng)`` draws one negative per entry of ``users``: never a training positive
    of that user, item :math:`j` with probability proportional to :math:`(c_j + 1)^\alpha`
    (:math:`c_j` = training interactions of item :math:`j`) among the user's non-positives,
    and every random number from ``np.random.default_rng(rng)``.

    The check draws 300,000 negatives for α = 0, 0.5 and 1 and compares their frequencies
    with the exact distribution by total variation distance, over single items and over 20
    popularity groups (tolerances: 3 and 4 times the distance expected from sampling noise
    alone, plus 0.001).
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    positives = _positives(users, items, n_users, n_items)
    counts = np.bincount(items, minlength=n_items).astype(np.float64)
    draw_users = np.resize(users, _N_DRAWS)  # users in proportion to their training pairs
    per_user = np.bincount(draw_users, minlength=n_users).astype(np.float64)
    groups = np.array_split(np.argsort(counts, kind="stable"), 20)  # by popularity
    summary = []
    for alpha in (0.0, 0.5, 1.0):
        try:
            sampler = sampler_class(users, items, n_users, n_items, alpha=alpha)
        except TypeError as error:
            _fail(
                "3.2",
                f"the sampler cannot be built as sampler_class(users, items, n_users, n_items, "
                f"alpha={alpha}) ({error})",
                "give __init__ the signature (self, users, items, n_users, n_items, alpha=0.75)",
            )
        neg = np.asarray(sampler.sample(draw_users, np.random.default_rng(0)))
        if neg.shape != draw_users.shape or not np.issubdtype(neg.dtype, np.integer):
            _fail(
                "3.2",
                f"sample() returned {neg.dtype} of shape {neg.shape} for {draw_users.size} users",
                "one integer item index per entry of users (same shape)",
            )
        if neg.min() < 0 or neg.max() >= n_items:
            _fail("3.2", "some negatives are not item indices", f"draw from 0 … {n_items - 1}")
        n_bad = int(positives[draw_users, neg].sum())
        if n_bad:
            _fail(
                "3.2",
                f"{n_bad} of {neg.size} negatives (alpha={alpha}) are training positives of "
                "their user",
                "reject them and redraw until none is left (self.is_positive(users, neg))",
            )
        again = np.asarray(sampler.sample(draw_users, np.random.default_rng(0)))
        if not np.array_equal(neg, again):
            _fail(
                "3.2",
                "two calls with the same rng seed gave different negatives",
                "draw every random number from rng = np.random.default_rng(rng), never from "
                "np.random.* (the global state)",
            )
        other = np.asarray(sampler.sample(draw_users, np.random.default_rng(1)))
        if np.array_equal(neg, other):
            _fail(
                "3.2",
                "the negatives do not depend on the rng passed in: every epoch would train on "
                "the same negatives",
                "use the rng argument instead of a fixed seed",
            )
        freq = np.bincount(neg, minlength=n_items) / neg.size
        weights = (counts + 1.0) ** alpha
        want = _expected_frequency(weights, positives, per_user)
        # Two distances: over single items (catches any gross error; its sampling noise is
        # large with 1,682 items) and over 20 popularity groups of equal size (small noise:
        # catches a wrong exponent).
        far = _tv(freq, want) > 3 * _tv_noise(want, neg.size) + 1e-3
        want_g = _grouped(want, groups)
        tolerance = 4 * _tv_noise(want_g, neg.size) + 1e-3
        freq_g = _grouped(freq, groups)
        if far or _tv(freq_g, want_g) > tolerance:
            _diagnose_distribution(alpha, freq_g, counts, positives, per_user, groups, tolerance)
        top = counts >= np.quantile(counts, 0.9)
        summary.append(f"alpha={alpha:g}: {freq[top].sum():.0%}")
    return _ok(
        "3.2",
        "no positives, reproducible, the right distribution; share of negatives from the "
        "10 % most popular items: " + ", ".join(summary),
    )


# --------------------------------------------------------------------------------------------
# Exercise 3.3: the last layer instead of the layer mean
# --------------------------------------------------------------------------------------------


def _numpy(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def check_last_layer(model) -> bool:
    r"""Exercise 3.3: a LightGCN whose final vectors are :math:`\hat A^K E^{(0)}` only.

    ``model`` needs LightGCN's attributes: ``A_hat`` (SciPy), ``embedding`` (the ego table
    :math:`E^{(0)}`, users first), ``n_layers``, ``n_users`` and ``user_embeddings()`` /
    ``item_embeddings()``.
    """
    for name in ("A_hat", "embedding", "n_layers", "n_users", "user_embeddings"):
        if not hasattr(model, name):
            _fail(
                "3.3",
                f"the model has no attribute {name!r}",
                "subclass models.LightGCN and build it like lightgcn (models."
                "lightgcn_from_interactions builds the operator)",
            )
    A = sp.csr_matrix(model.A_hat, dtype=np.float64)
    K, n_users = int(model.n_layers), int(model.n_users)
    layers = [_numpy(model.embedding)]
    for _ in range(max(K, 1)):
        layers.append(A @ layers[-1])
    got = np.concatenate([_numpy(model.user_embeddings()), _numpy(model.item_embeddings())])
    if got.shape != layers[0].shape:
        _fail("3.3", f"final vectors of shape {got.shape}", f"expected {layers[0].shape}")
    scale = max(1.0, np.abs(layers[K]).max())

    def same(x):
        return np.abs(got - x).max() <= 1e-4 * scale

    if same(layers[K]):
        e = layers[K]
        unit = e[:n_users] / np.maximum(np.linalg.norm(e[:n_users], axis=1, keepdims=True), 1e-12)
        s = unit.sum(axis=0)
        cos = (s @ s - len(unit)) / (len(unit) * (len(unit) - 1))
        return _ok(
            "3.3",
            f"final vectors = Â^{K} E⁽⁰⁾ (mean cosine similarity of the users' vectors {cos:.3f})",
        )
    mean = sum(layers[: K + 1]) / (K + 1)
    if same(mean):
        _fail(
            "3.3",
            "the final vectors are still the mean of the layers",
            "override node_embeddings (what propagate uses) to return only the last element "
            "of self.layer_embeddings(training)",
        )
    if same(sum(layers[: K + 1])):
        _fail("3.3", "the final vectors are the sum of the layers", "keep only the last one")
    if K >= 1 and same(layers[0]):
        _fail(
            "3.3",
            "the final vectors are the ego embeddings E⁽⁰⁾",
            "layer_embeddings() starts with E⁽⁰⁾; the last layer is its last element, [-1]",
        )
    if K >= 2 and same(layers[K - 1]):
        _fail(
            "3.3",
            f"the final vectors are Â^{K - 1} E⁽⁰⁾, one layer short",
            f"layer_embeddings() holds K + 1 = {K + 1} tensors; take the last one, [-1]",
        )
    _fail(
        "3.3",
        f"the final vectors are not Â^{K} E⁽⁰⁾",
        "override node_embeddings to return self.layer_embeddings(training)[-1]",
    )


# --------------------------------------------------------------------------------------------
# Exercise 3.4: fold-in from m items
# --------------------------------------------------------------------------------------------


def check_fold_in_subsets(subsets: Mapping[int, tuple], train: tuple) -> bool:
    """Exercise 3.4: for each ``m``, ``min(m, |N(u)|)`` random training items of every user.

    Args:
        subsets: ``{m: (users, items)}``, the pairs given to ``fold_in_many`` for that ``m``.
        train: ``(users, items)`` of the training split.
    """
    tu, ti = (np.asarray(a, dtype=np.int64) for a in train)
    n_items = int(ti.max()) + 1
    train_keys = np.unique(tu * n_items + ti)
    degree = np.bincount(tu)
    if not subsets:
        _fail("3.4", "no subsets given", "a dict {m: (users, items)} for m in (1, 3, 5, 10)")
    # The first m items of each user in the stored order (the split is sorted by item index).
    order = np.lexsort((np.arange(tu.size), tu))
    rank = np.arange(tu.size) - np.searchsorted(tu[order], tu[order], side="left")
    for m, pair in sorted(subsets.items()):
        su, si = (np.asarray(a, dtype=np.int64) for a in pair)
        if su.shape != si.shape or su.ndim != 1:
            _fail("3.4", f"m={m}: users and items differ in shape", "two 1-D arrays per m")
        if su.size and (si.max() >= n_items or si.min() < 0 or su.min() < 0):
            _fail("3.4", f"m={m}: indices out of range", "0-based user and item indices")
        keys = su * n_items + si
        if np.unique(keys).size != keys.size:
            _fail(
                "3.4",
                f"m={m}: {keys.size - np.unique(keys).size} duplicate (user, item) pairs",
                "draw without replacement (rng.permutation or rng.choice(..., replace=False))",
            )
        foreign = ~np.isin(keys, train_keys)
        if foreign.any():
            _fail(
                "3.4",
                f"m={m}: {int(foreign.sum())} pairs are not training pairs of that user",
                "pick each user's items from the training split only — a validation or test "
                "item in the fold-in would leak the answer",
            )
        got = np.bincount(su, minlength=degree.size)[: degree.size]
        want = np.minimum(m, degree)
        if not np.array_equal(got, want):
            short = int((got < want).sum())
            extra = int((got > want).sum())
            _fail(
                "3.4",
                f"m={m}: {short} users have fewer and {extra} more items than min(m, |N(u)|)",
                "take m items per user (all of them when the user has fewer than m), not m "
                "in total",
            )
        heavy = degree > m
        if heavy.sum() >= 5:
            first = set((tu[order][rank < m] * n_items + ti[order][rank < m]).tolist())
            heavy_keys = keys[heavy[su]]
            if all(k in first for k in heavy_keys.tolist()):
                _fail(
                    "3.4",
                    f"m={m}: every user got their first m training items (lowest item indices)",
                    "draw the m items at random (rng = np.random.default_rng(SEED)); the stored "
                    "order favours old, popular films",
                )
    sizes = ", ".join(f"m={m}: {len(pair[0]):,} pairs" for m, pair in sorted(subsets.items()))
    return _ok("3.4", f"random training items per user, none leaked ({sizes})")


# --------------------------------------------------------------------------------------------
# Exercise 3.5: sampled softmax with several negatives
# --------------------------------------------------------------------------------------------


def _logsumexp_rows(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(z - top).sum(axis=1))


def _softmax_loss(pos: np.ndarray, neg: np.ndarray, tau: float) -> np.ndarray:
    """Per-pair sampled softmax loss in float64: ``logsumexp(z) - z_0``, z = [pos, neg] / tau."""
    z = np.concatenate([pos[:, None], neg], axis=1) / tau
    return _logsumexp_rows(z) - z[:, 0]


def _call_loss(loss_fn: Callable, pos: np.ndarray, neg: np.ndarray, tau: float) -> np.ndarray:
    shapes = f"pos_scores {pos.shape}, neg_scores {neg.shape}, temperature={tau}"
    try:
        out = loss_fn(pos.astype(np.float32), neg.astype(np.float32), tau)
    except Exception as error:  # noqa: BLE001 — the student's code: report what it raised
        _fail(
            "3.5",
            f"sampled_softmax_loss({shapes}) raised {type(error).__name__}: {error}",
            "take pos_scores of shape (b,), neg_scores of shape (b, M) and a float "
            "temperature; stack them to logits of shape (b, 1 + M) with "
            "tf.concat([pos_scores[:, None], neg_scores], axis=1)",
        )
    return _numpy(out)


def check_sampled_softmax(loss_fn: Callable, history) -> bool:
    r"""Exercise 3.5: the sampled softmax loss, and a training run with it whose loss goes down.

    .. math::
        \mathcal L = -\frac{1}{|B|}\sum_{(u,i)\in B}\ln
        \frac{\exp(\hat y_{ui}/\tau)}{\exp(\hat y_{ui}/\tau) + \sum_{m=1}^{M}
        \exp(\hat y_{uj_m}/\tau)}

    Args:
        loss_fn: ``loss_fn(pos_scores, neg_scores, temperature)`` with scores of shapes
            ``(b,)`` and ``(b, M)``; returns the scalar loss (a tensor or a number). It is
            called on small float32 NumPy arrays and compared with a float64 reference.
        history: the mean loss of each training epoch (at least two), in order.
    """
    rng = np.random.default_rng(35)
    b, m, tau = 6, 4, 0.3
    pos, neg = rng.normal(1.0, 1.0, b), rng.normal(0.0, 1.0, (b, m))
    pos, neg = pos.astype(np.float32).astype(np.float64), neg.astype(np.float32).astype(np.float64)
    out = _call_loss(loss_fn, pos, neg, tau)
    if out.shape != ():
        if out.shape == (b,):
            _fail(
                "3.5",
                f"the loss has shape {out.shape}: one value per pair, not one for the batch",
                "average over the batch: tf.reduce_mean(...) of the per-pair losses",
            )
        _fail(
            "3.5",
            f"the loss has shape {out.shape} for {b} pairs with {m} negatives each, not a scalar",
            "per pair, reduce over the 1 + M logits (tf.reduce_logsumexp(logits, axis=1)), then "
            "average over the batch",
        )
    got = float(out)
    want = float(_softmax_loss(pos, neg, tau).mean())

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= 1e-4 * max(1.0, abs(y))

    if not np.isfinite(got):
        _fail("3.5", f"the loss is {got} on ordinary scores", "see the formula in the exercise")
    if not close(got, want):
        z = np.concatenate([pos[:, None], neg], axis=1) / tau
        per_pair = _softmax_loss(pos, neg, tau)
        no_positive = _logsumexp_rows(neg / tau) - pos / tau
        mean_of_all = _logsumexp_rows(z) - np.log(1 + m) - pos / tau
        z_mean_neg = np.concatenate([z[:, :1], z[:, 1:] - np.log(m)], axis=1)
        mean_of_negatives = _logsumexp_rows(z_mean_neg) - pos / tau
        untempered = _softmax_loss(pos, neg, 1.0).mean()
        wrong = [
            (per_pair.sum(), "the loss is summed over the batch", "take the mean (tf.reduce_mean)"),
            (
                no_positive.mean(),
                "the denominator leaves out the positive item",
                "the softmax runs over the positive AND its M negatives: logsumexp over the "
                "1 + M logits [y_ui, y_uj1, ..., y_ujM] / tau",
            ),
            (
                mean_of_all.mean(),
                "the exponentials are averaged, not summed",
                "the denominator is a sum: exp(y_ui/tau) + sum_m exp(y_ujm/tau)",
            ),
            (
                mean_of_negatives.mean(),
                "the negatives are averaged inside the denominator, not summed",
                "sum the M negatives' exponentials: logsumexp over all 1 + M logits",
            ),
            (
                untempered,
                "the temperature is ignored",
                "divide every score by the temperature before the exponentials",
            ),
            (
                _softmax_loss(pos * tau, neg * tau, 1.0).mean(),
                "the scores are multiplied by the temperature",
                "divide by it: logits = scores / temperature (a small tau sharpens the softmax)",
            ),
            (
                untempered / tau,
                "the temperature divides the loss, not the scores",
                "divide the scores by tau before the exponentials",
            ),
            (
                -want,
                "the sign is flipped: this loss would push the positive down",
                "the loss is MINUS the log of the positive's softmax probability",
            ),
        ]
        for value, problem, hint in wrong:
            if close(got, float(value)):
                _fail("3.5", problem, hint)
        _fail(
            "3.5",
            f"for {b} pairs with {m} negatives and tau={tau} the loss should be {want:.6f}, "
            f"yours gives {got:.6f}",
            "L = mean over the batch of logsumexp([y_ui, y_uj1, ..., y_ujM] / tau) - y_ui / tau",
        )
    # Large scores: exp(y / tau) overflows unless the maximum is subtracted (logsumexp).
    big_pos = pos + 60.0
    big_neg = neg + np.array([[60.0], [55.0], [65.0], [-60.0], [0.0], [62.0]])
    big = _call_loss(loss_fn, big_pos, big_neg, 0.05)
    big_want = float(_softmax_loss(big_pos, big_neg, 0.05).mean())
    if big.shape != () or not np.isfinite(big) or not close(float(big), big_want):
        _fail(
            "3.5",
            f"with scores near ±60 and tau=0.05 the loss is {float(np.ravel(big)[0]):.4g}, not "
            f"{big_want:.4g}: exp(score / tau) overflows (e^1200)",
            "compute ln(sum exp) stably: tf.reduce_logsumexp(logits, axis=1) subtracts the "
            "row maximum first",
        )
    # With one negative and tau = 1 the sampled softmax is BPR: ln(1 + e^{y_uj - y_ui}).
    one = float(_call_loss(loss_fn, pos, neg[:, :1], 1.0))
    bpr = float(np.mean(np.logaddexp(0.0, neg[:, 0] - pos)))
    try:
        h = np.array([float(_numpy(x)) for x in history], dtype=np.float64)
    except TypeError:
        h = np.zeros(0)
    if h.size < 2:
        _fail(
            "3.5",
            f"history holds {h.size} epoch loss(es)",
            "train for SCRATCH_EPOCHS epochs and keep the mean loss of each epoch in a list",
        )
    if not np.isfinite(h).all():
        _fail(
            "3.5",
            f"the training loss became {h[~np.isfinite(h)][0]} at epoch "
            f"{int(np.flatnonzero(~np.isfinite(h))[0]) + 1}",
            "use your sampled_softmax_loss (stable) in the step, and the learning rate of "
            "section 3.4a",
        )
    if not h[-1] < h[0]:
        _fail(
            "3.5",
            f"the training loss did not go down: {h[0]:.4f} in the first epoch, {h[-1]:.4f} in "
            "the last",
            "check that the step differentiates the loss with respect to the ego embeddings "
            "(tape.gradient(loss, E0_ssm)) and applies it with the optimizer, and that the "
            "loss is minimised (not its negative)",
        )
    return _ok(
        "3.5",
        f"sampled softmax right (equals BPR for one negative and tau = 1: {one:.6f} vs "
        f"{bpr:.6f}); training loss {h[0]:.4f} -> {h[-1]:.4f} over {h.size} epochs",
    )
