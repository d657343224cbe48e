"""Exercise checks for notebook 05 (graph GAN).

The checks do not import TensorFlow: tensors and ``tf.Variable`` inputs are read through their
``.numpy()`` method, models through ``score_all_users()`` / ``logits(users, items)``.
"""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok
from gnnrec_utils.metrics import gini as _gini

import numpy as np
import pandas as pd

TEMPERATURES = (0.1, 0.2, 0.5, 1.0, 2.0)


# --------------------------------------------------------------------------------------------
# Plain helpers (independent of gnnrec_utils.gan)
# --------------------------------------------------------------------------------------------


def _array(x, dtype=np.float64) -> np.ndarray:
    """A NumPy copy of an array, tensor or ``tf.Variable``."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def _close(x: float, y: float, rtol: float = 1e-4, atol: float = 1e-7) -> bool:
    return bool(abs(x - y) <= rtol * abs(y) + atol)


def _softmax_rows(scores: np.ndarray, tau: float) -> np.ndarray:
    z = scores / tau
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _jaccard_pairs(users, items, n_users: int, n_items: int) -> np.ndarray:
    """Jaccard similarity of every user pair u < v (``np.triu_indices`` order), dense code."""
    R = np.zeros((n_users, n_items))
    R[users, items] = 1.0
    C = R @ R.T
    deg = np.diag(C).copy()
    a, b = np.triu_indices(n_users, 1)
    inter = C[a, b]
    union = deg[a] + deg[b] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _scalar(exercise: str, name: str, value, n_pairs: int) -> float:
    if value is None:
        _fail(
            exercise,
            f"{name} is None (tape.gradient returns None for a tensor the tape did not watch)",
            "make f a tf.Variable (or call tape.watch(f)) and compute the reward inside the tape",
        )
    arr = _array(value)
    if arr.size == n_pairs and n_pairs > 1:
        _fail(
            exercise,
            f"{name} holds one derivative per pair ({arr.size} values), not their mean",
            "average the gradient over the pairs: float(tf.reduce_mean(tape.gradient(r, f)))",
        )
    if arr.size != 1:
        _fail(exercise, f"{name} has shape {arr.shape}", "store one float: float(...)")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        _fail(
            exercise,
            f"{name} is {out}",
            "was f watched by the tape? make it a tf.Variable (or call tape.watch(f))",
        )
    return out


# --------------------------------------------------------------------------------------------
# Exercise 5.1
# --------------------------------------------------------------------------------------------


def _diagnose_derivative(name: str, got: float, want: float, other: float, s, n_rows, k) -> None:
    """Explain a wrong mean derivative (``want`` = this reward's, ``other`` = the other one's)."""
    n_pairs = s.size
    minimax = name == "grad_minimax"
    reward = "softplus(f) = −log(1 − D)" if minimax else "log σ(f) = log D"
    slope = "σ(f)" if minimax else "1 − σ(f)"
    if _close(got, other):
        _fail(
            "5.1",
            f"{name} = {got:.4f} is the other reward's derivative",
            f"{name} is the derivative of {reward}, which is {slope} per pair",
        )
    if _close(got, -want):
        wrong = "log(1 − D) = −softplus(f)" if minimax else "−log D"
        _fail(
            "5.1",
            f"{name} = {got:.4f} has the wrong sign: you differentiated {wrong}",
            f"the generator's reward is {reward}; it grows as D(generated) grows",
        )
    if not minimax and _close(got, -other):
        _fail(
            "5.1",
            "grad_nonsat is the derivative of log(1 − D) (the saturating term), not of log D",
            "the non-saturating reward is log D = log σ(f) = tf.math.log_sigmoid(f)",
        )
    for m, what in ((n_pairs, "all pairs"), (k, "each user's draws"), (n_rows, "the users")):
        if m > 1 and _close(got, want / m):
            _fail(
                "5.1",
                f"{name} = {got:.3g} is {m} times too small: you differentiated a mean of the "
                f"reward over {what}, which divides every pair's derivative by {m}",
                "differentiate the SUM of the rewards (tf.reduce_sum), then take the mean "
                "of the gradient",
            )
    if n_pairs > 1 and _close(got, want * n_pairs):
        _fail(
            "5.1",
            f"{name} = {got:.4g} is the sum of the {n_pairs} per-pair derivatives",
            "average them: tf.reduce_mean(tape.gradient(r, f))",
        )
    d = _sigmoid(s)
    if _close(got, float((d * (1 - d)).mean())):
        _fail(
            "5.1",
            f"{name} = {got:.4f} is the mean derivative of D = σ(f) itself",
            f"differentiate the reward {reward}, not the probability",
        )
    per_d = 1 / (1 - d) if minimax else 1 / d
    if _close(got, float(per_d.mean())):
        _fail(
            "5.1",
            f"{name} = {got:.4f} is a derivative with respect to D, not to the logit f",
            "compute the reward from the logits (tf.math.softplus(f), tf.math.log_sigmoid(f)) "
            "and differentiate with respect to f",
        )
    _fail(
        "5.1",
        f"{name} = {got:.4f}, but the mean of {slope} over your pairs is {want:.4f}",
        f"reward {reward}; sum it over the pairs, take tape.gradient with respect to f and average",
    )


def check_reward_gradients(grad_minimax, grad_nonsat, f, discriminator=None, drawn=None) -> bool:
    r"""Exercise 5.1: mean derivatives of the minimax and the non-saturating reward.

    Expected: per pair :math:`\partial\,\mathrm{softplus}(f)/\partial f = \sigma(f)` and
    :math:`\partial \log\sigma(f) / \partial f = 1 - \sigma(f)`, averaged over the pairs.

    Args:
        grad_minimax, grad_nonsat: the student's two floats.
        f: the discriminator's logits of the drawn pairs (array, tensor or ``tf.Variable``),
            e.g. ``(n_users, n_draws)``.
        discriminator: optional; with ``drawn`` (``(n_users, n_draws)`` item indices), ``f`` is
            checked to be ``discriminator.logits(users, drawn)`` for users ``0 … n_users-1``.
    """
    s = _array(f)
    if s.size == 0 or not np.isfinite(s).all():
        _fail("5.1", "f is empty or not finite", "f = D_main.logits(users, drawn) of the pairs")
    n_rows = s.shape[0] if s.ndim >= 1 else 1
    k = s.shape[1] if s.ndim >= 2 else 1
    if discriminator is not None and drawn is not None:
        items = np.asarray(drawn)
        users = np.arange(items.shape[0], dtype=np.int32)
        want_f = _array(discriminator.logits(users, items.astype(np.int32)))
        if want_f.shape != s.shape:
            _fail(
                "5.1",
                f"f has shape {s.shape}, the drawn pairs {want_f.shape}",
                "one logit per drawn pair: D_main.logits(np.arange(n_users), drawn)",
            )
        if not np.allclose(s, want_f, atol=1e-5):
            if np.allclose(s, _sigmoid(want_f), atol=1e-5):
                _fail(
                    "5.1",
                    "f holds the probabilities D = σ(f), not the logits",
                    "use D_main.logits(...), not D_main.probability(...) or D_main(...)",
                )
            _fail(
                "5.1",
                "f is not the discriminator's logits of the drawn pairs",
                "f = tf.Variable(D_main.logits(np.arange(n_users), drawn)) with the same "
                "drawn items",
            )
    gm = _scalar("5.1", "grad_minimax", grad_minimax, s.size)
    gn = _scalar("5.1", "grad_nonsat", grad_nonsat, s.size)
    d = _sigmoid(s)
    want_m, want_n = float(d.mean()), float((1 - d).mean())
    ok_m, ok_n = _close(gm, want_m), _close(gn, want_n)
    if not (ok_m and ok_n) and _close(gm, want_n) and _close(gn, want_m):
        _fail(
            "5.1",
            "the two values are swapped",
            "softplus(f) (minimax) has derivative σ(f); log σ(f) (non-saturating) has 1 − σ(f)",
        )
    if not ok_m:
        _diagnose_derivative("grad_minimax", gm, want_m, want_n, s, n_rows, k)
    if not ok_n:
        _diagnose_derivative("grad_nonsat", gn, want_n, want_m, s, n_rows, k)
    if gm < gn:
        verdict = "the minimax reward gives the smaller signal while D rejects the pairs"
    else:
        verdict = "here D accepts the pairs, so the minimax reward's signal is not the smaller"
    return _ok(
        "5.1",
        f"dr/df = mean D(generated) = {gm:.3f} (minimax) vs 1 − D = {gn:.3f} "
        f"(non-saturating) — {verdict}",
    )


# --------------------------------------------------------------------------------------------
# Exercise 5.2
# --------------------------------------------------------------------------------------------


def _expected_share(p: np.ndarray, n_draws: int) -> tuple[float, float]:
    """Expected share of the items drawn at least once, and its standard deviation.

    Item i is missed by every user's n i.i.d. draws with probability prod_u (1 - p_ui)^n.
    """
    log_miss = n_draws * np.log1p(-np.minimum(p, 1 - 1e-15)).sum(axis=0)
    hit = 1 - np.exp(log_miss)
    return float(hit.mean()), float(np.sqrt((hit * (1 - hit)).sum()) / p.shape[1])


def _simulated_gini(p: np.ndarray, n_draws: int, rng, reps: int = 4) -> dict:
    """Gini of the draw counts (all items, and drawn items only) over ``reps`` simulations."""
    full, drawn_only = [], []
    for _ in range(reps):
        counts = rng.multinomial(n_draws, p).sum(axis=0)
        full.append(_gini(counts))
        drawn_only.append(_gini(counts[counts > 0]))
    return {
        "gini": float(np.mean(full)),
        "sd": float(np.std(full, ddof=1)),
        "gini_drawn_only": float(np.mean(drawn_only)),
        "sd_drawn_only": float(np.std(drawn_only, ddof=1)),
    }


def check_temperature_table(
    temp_table, model, n_samples: int = 16, temperatures=TEMPERATURES
) -> bool:
    """Exercise 5.2: share of the catalogue drawn and Gini of the draws for each temperature.

    The expected share is computed exactly from the policy ``softmax(s / τ)`` of the model's
    scores (an item is missed with probability ``prod_u (1 - p_ui)^n_samples``); the expected
    Gini is simulated with multinomial draws.

    Args:
        temp_table: DataFrame with columns ``temperature``, ``distinct_share``, ``gini``.
        model: the pre-trained model (anything with ``score_all_users()``) or its scores
            ``(n_users, n_items)``.
    """
    if not isinstance(temp_table, pd.DataFrame):
        _fail("5.2", f"temp_table is a {type(temp_table).__name__}", "pd.DataFrame(rows)")
    missing = [c for c in ("temperature", "distinct_share", "gini") if c not in temp_table]
    if missing:
        _fail(
            "5.2",
            f"column(s) {missing} missing (columns: {list(temp_table.columns)})",
            "one dict per τ: {'temperature': tau, **gan.sampled_item_statistics(draws, n_items)}",
        )
    taus = np.asarray(temp_table["temperature"], dtype=np.float64)
    want_taus = np.asarray(temperatures, dtype=np.float64)
    if taus.shape != want_taus.shape or not np.allclose(np.sort(taus), want_taus):
        _fail(
            "5.2",
            f"temperatures {taus.tolist()}",
            f"one row per τ in {list(temperatures)}",
        )
    if not np.allclose(taus, want_taus):
        _fail("5.2", "the rows are not in increasing τ", "loop over τ = 0.1, 0.2, 0.5, 1, 2")
    share = np.asarray(temp_table["distinct_share"], dtype=np.float64)
    gini = np.asarray(temp_table["gini"], dtype=np.float64)
    if not (np.isfinite(share).all() and np.isfinite(gini).all()):
        _fail("5.2", "the table has missing or infinite values", "fill every row")
    falls, grows = np.all(np.diff(share) <= 0), np.all(np.diff(gini) >= 0)
    if falls and grows and share[-1] < share[0] and gini[-1] > gini[0]:
        _fail(
            "5.2",
            "distinct_share falls and gini grows with τ: the two columns look swapped",
            "distinct_share = share of the catalogue drawn, gini = Gini of the draw counts",
        )
    if (share > 1).any():
        _fail(
            "5.2",
            f"distinct_share = {share.max():g} is larger than 1",
            "a share of the catalogue: items drawn at least once / n_items",
        )
    if (share <= 0).any() or (gini < 0).any() or (gini >= 1).any():
        _fail("5.2", "distinct_share must lie in (0, 1] and gini in [0, 1)", "check the columns")

    scores = model.score_all_users() if hasattr(model, "score_all_users") else model
    scores = _array(scores)
    policies = [_softmax_rows(scores, tau) for tau in want_taus]
    expected = [_expected_share(p, n_samples) for p in policies]
    want_share = np.array([e[0] for e in expected])
    tol_share = np.array([max(6 * e[1], 0.01) for e in expected])
    rng = np.random.default_rng(0)
    sims = [_simulated_gini(p, n_samples, rng) for p in policies]
    want_gini = np.array([s["gini"] for s in sims])
    tol_gini = np.array([max(6 * s["sd"], 0.01) for s in sims])

    sd_share = np.array([e[1] for e in expected])
    sd_gini = np.array([s["sd"] for s in sims])
    share_ok = np.abs(share - want_share) <= tol_share
    one_draw = np.array([_expected_share(p, 1)[0] for p in policies])
    like_one_draw = np.abs(share - one_draw) <= tol_share
    if n_samples > 1 and not share_ok.all() and np.all(share_ok | like_one_draw):
        r = int(np.flatnonzero(~share_ok)[0])
        _fail(
            "5.2",
            f"at τ = {want_taus[r]:g} the share ({share[r]:.3f}) is what one draw per user gives",
            f"draw {n_samples} items per user: policy.sample(np.arange(n_users), rng, {n_samples})",
        )
    # Monotone only where the expected steps are well above the noise of a difference
    share_up = np.all(np.diff(want_share) > 3.5 * np.hypot(sd_share[1:], sd_share[:-1]) + 1e-3)
    gini_down = np.all(-np.diff(want_gini) > 3.5 * np.hypot(sd_gini[1:], sd_gini[:-1]) + 1e-3)
    if share_up and not np.all(np.diff(share) > 0):
        _fail(
            "5.2",
            f"distinct_share does not grow with τ ({np.round(share, 3).tolist()})",
            "a hotter policy spreads its draws; build one gan.PolicyGenerator(model, "
            "temperature=tau) per row",
        )
    if gini_down and not np.all(np.diff(gini) < 0):
        _fail(
            "5.2",
            f"the Gini does not fall as τ grows ({np.round(gini, 3).tolist()})",
            "one gan.PolicyGenerator(model, temperature=tau) per row",
        )
    for r, tau in enumerate(want_taus):
        if share_ok[r]:
            continue
        other = [
            t for j, t in enumerate(want_taus) if abs(share[r] - want_share[j]) <= tol_share[j]
        ]
        if other:
            _fail(
                "5.2",
                f"the row τ = {tau:g} has the share expected at τ = {other[0]:g}",
                "pass temperature=tau to gan.PolicyGenerator, a new one for every row",
            )
        _fail(
            "5.2",
            f"at τ = {tau:g} the share drawn is {share[r]:.3f}; the pre-trained policy gives "
            f"{want_share[r]:.3f} ± {tol_share[r] / 6:.3f}",
            'wrap pre[SEED]["lightgcn"] (not the trained G) and draw '
            f"{n_samples} items for every user",
        )
    for r, tau in enumerate(want_taus):
        if abs(gini[r] - want_gini[r]) <= tol_gini[r]:
            continue
        tol_drawn_only = max(6 * sims[r]["sd_drawn_only"], 0.01)
        if abs(gini[r] - sims[r]["gini_drawn_only"]) <= tol_drawn_only:
            _fail(
                "5.2",
                f"at τ = {tau:g} the Gini ({gini[r]:.3f}) counts only the items that were drawn",
                "count every item of the catalogue (np.bincount(..., minlength=n_items)); "
                "gan.sampled_item_statistics does",
            )
        _fail(
            "5.2",
            f"at τ = {tau:g} the Gini of the draws is {gini[r]:.3f}; expected about "
            f"{want_gini[r]:.3f}",
            "Gini of the draw counts over all items: gan.sampled_item_statistics(draws, n_items)",
        )
    collapsed = [f"{t:g}" for t, s in zip(want_taus, share, strict=True) if s < 0.25]
    where = f"at τ ≤ {collapsed[-1]}" if collapsed else "at none of these τ"
    return _ok(
        "5.2",
        f"share drawn {share[0]:.1%} at τ = {want_taus[0]:g} … {share[-1]:.1%} at "
        f"τ = {want_taus[-1]:g}; fewer than a quarter of the items are drawn {where}",
    )


# --------------------------------------------------------------------------------------------
# Exercise 5.3
# --------------------------------------------------------------------------------------------


def check_popularity_graph(
    pop_graph, pop_stats, train, test, n_users: int, n_items: int, generator_stats=None
) -> bool:
    """Exercise 5.3: a graph where user u draws d_u distinct items with p ∝ training degree.

    Checked: every user's training degree kept, no repeated pair, no item without a training
    edge, the item-degree Gini close to that of the same null model simulated here with
    ``rng.choice(..., replace=False, p=degree / sum)``, and ``pop_stats``'s ``jaccard_corr``
    and ``holdout_hit`` recomputed from ``pop_graph`` with plain code.

    Args:
        pop_graph: ``(users, items)``; pop_stats: dict or Series from ``gan.graph_statistics``.
        train, test: ``(users, items)`` of the training and test interactions.
        generator_stats: optional statistics of the GAN generator's graph, for the message.
    """
    n_users, n_items = int(n_users), int(n_items)
    tr_u, tr_i = (np.asarray(a, dtype=np.int64) for a in train)
    te_u, te_i = (np.asarray(a, dtype=np.int64) for a in test)
    user_degree = np.bincount(tr_u, minlength=n_users)
    item_degree = np.bincount(tr_i, minlength=n_items)
    if not (isinstance(pop_graph, tuple | list) and len(pop_graph) == 2):
        _fail("5.3", "pop_graph must be a pair (users, items)", "gan.sample_graph returns one")
    u, i = (np.asarray(a).ravel() for a in pop_graph)
    if u.shape != i.shape:
        _fail("5.3", "users and items have different lengths", "one (user, item) per edge")
    if not (np.issubdtype(u.dtype, np.integer) and np.issubdtype(i.dtype, np.integer)):
        _fail("5.3", "pop_graph must hold integer indices", "the output of gan.sample_graph")
    u, i = u.astype(np.int64), i.astype(np.int64)
    if u.size and (u.min() < 0 or u.max() >= n_users or i.min() < 0 or i.max() >= n_items):
        _fail("5.3", "indices out of range", f"users in [0, {n_users}), items in [0, {n_items})")

    got_deg = np.bincount(u, minlength=n_users)
    if not np.array_equal(got_deg, user_degree):
        if u.size != tr_u.size:
            problem = f"{u.size:,} edges, but the training graph has {tr_u.size:,}"
        else:
            bad = int(np.flatnonzero(got_deg != user_degree)[0])
            problem = f"user {bad} has {got_deg[bad]} edges instead of {user_degree[bad]}"
        _fail(
            "5.3",
            f"the user degrees are not kept: {problem}",
            "pass the training degrees user_degree to gan.sample_graph (user u draws d_u items)",
        )
    keys = u * n_items + i
    if np.unique(keys).size != keys.size:
        _fail(
            "5.3",
            f"{keys.size - np.unique(keys).size} repeated (user, item) pairs",
            "draw without replacement: gan.sample_graph does (Gumbel top-k); "
            "sample_categorical / PolicyGenerator.sample draw with replacement",
        )
    zero = item_degree[i] == 0
    if zero.any():
        problem = (
            f"{int(zero.sum())} edges go to items without a training edge, which have "
            "probability 0 under p(i) ∝ degree"
        )
        if zero.mean() > 0.5 * (item_degree == 0).mean():  # about as many as uniform draws
            _fail(
                "5.3",
                problem + "; the items look drawn uniformly",
                "the scores must be log(item_degree + 1e-300), not zeros (all-equal scores "
                "give the uniform random graph)",
            )
        _fail(
            "5.3",
            problem + "; the popularity looks smoothed",
            "use log(item_degree + 1e-300), not log(1 + item_degree): the +1 gives every "
            "item a chance",
        )
    train_keys = tr_u * n_items + tr_i
    if np.array_equal(np.sort(keys), np.sort(train_keys)):
        _fail("5.3", "pop_graph is the training graph itself", "sample a new graph")
    got_item_deg = np.bincount(i, minlength=n_items)
    if np.array_equal(got_item_deg, item_degree):
        _fail(
            "5.3",
            "every item keeps its training degree exactly: that is the configuration model",
            "the popularity null model keeps only the user degrees and draws items with "
            "p ∝ degree: gan.sample_graph(np.tile(np.log(item_degree + 1e-300), (n_users, 1)), "
            "user_degree, rng)",
        )

    rng = np.random.default_rng(0)
    p = item_degree / item_degree.sum()
    allowed = int((item_degree > 0).sum())
    if (user_degree > allowed).any():
        _fail("5.3", "a user's degree exceeds the items with edges", "check train")
    sims = []
    for _ in range(4):
        items = np.concatenate(
            [rng.choice(n_items, d, replace=False, p=p) for d in user_degree if d > 0]
        )
        sims.append(_gini(np.bincount(items, minlength=n_items)))
    want_gini = float(np.mean(sims))
    tol_gini = max(8 * float(np.std(sims, ddof=1)), 0.02)
    got_gini = _gini(got_item_deg)
    if got_gini < want_gini - tol_gini:
        _fail(
            "5.3",
            f"the item degrees are too even (Gini {got_gini:.3f}; p ∝ degree gives about "
            f"{want_gini:.3f})",
            "the scores are log-probabilities: use log(item_degree + 1e-300), unscaled, "
            "with temperature 1",
        )
    if got_gini > want_gini + tol_gini:
        _fail(
            "5.3",
            f"the item degrees are too concentrated (Gini {got_gini:.3f}; p ∝ degree gives "
            f"about {want_gini:.3f})",
            "sample_graph takes exp of the scores: pass log(item_degree + 1e-300), not "
            "item_degree itself, with temperature 1",
        )

    if not isinstance(pop_stats, dict | pd.Series):
        _fail("5.3", f"pop_stats is a {type(pop_stats).__name__}", "gan.graph_statistics(...)")
    need = [k for k in ("jaccard_corr", "holdout_hit") if k not in pop_stats]
    if need:
        _fail(
            "5.3",
            f"pop_stats has no {need}",
            "gan.graph_statistics(*pop_graph, n_users, n_items, reference=train, holdout=test)",
        )
    jac_pop = _jaccard_pairs(u, i, n_users, n_items)
    jac_train = _jaccard_pairs(tr_u, tr_i, n_users, n_items)
    want_corr = float(np.corrcoef(jac_pop, jac_train)[0, 1])
    want_hit = float(np.isin(keys, te_u * n_items + te_i).mean())
    got_corr, got_hit = float(pop_stats["jaccard_corr"]), float(pop_stats["holdout_hit"])
    if not (_close(got_corr, want_corr, 1e-6, 1e-9) and _close(got_hit, want_hit, 1e-6, 1e-9)):
        on_train = float(np.isin(keys, train_keys).mean())
        if _close(got_hit, on_train, 1e-6, 1e-9):
            _fail(
                "5.3",
                "holdout_hit is the share of training edges: reference and holdout are swapped",
                "reference=train (the graph to imitate), holdout=test (edges it never saw)",
            )
        jac_test = _jaccard_pairs(te_u, te_i, n_users, n_items)
        if _close(got_corr, float(np.corrcoef(jac_pop, jac_test)[0, 1]), 1e-6, 1e-9):
            _fail("5.3", "jaccard_corr compares with the test graph", "reference=train")
        _fail(
            "5.3",
            f"pop_stats (jaccard_corr {got_corr:.4f}, holdout_hit {got_hit:.4f}) do not "
            f"describe pop_graph ({want_corr:.4f}, {want_hit:.4f})",
            "gan.graph_statistics(*pop_graph, n_users, n_items, reference=train, holdout=test)",
        )
    msg = (
        f"Jaccard correlation {want_corr:.3f} and holdout hit {want_hit:.3f} from popularity alone"
    )
    if generator_stats is not None:
        msg += (
            f" vs {float(generator_stats['jaccard_corr']):.3f} and "
            f"{float(generator_stats['holdout_hit']):.3f} for the generator"
        )
    return _ok("5.3", msg)


# --------------------------------------------------------------------------------------------
# Exercise 5.4
# --------------------------------------------------------------------------------------------

_BASELINE_NAMES = {
    "mean": "the mean of the user's K rewards, its own included",
    "loo": "the leave-one-out mean (the user's K − 1 other rewards)",
    "none": "no baseline (b = 0)",
    "batch": "the mean reward of the whole batch",
}


def _reinforce_gradient(model, discriminator, users, items, temperature: float, kind: str):
    r"""Gradient of §4.1's surrogate with respect to the ego embeddings, in NumPy (float64).

    Loss :math:`-\frac{1}{BK}\sum_{u,k} a_{uk} \log \mathrm{softmax}(s_u/\tau)_{j_{uk}}`, so
    :math:`\partial/\partial z_u = \frac{1}{BK}\sum_k a_{uk}(p_u - e_{j_{uk}})`, then through
    :math:`s = E_u E_i^\top` and :math:`E = \frac{1}{L+1}\sum_l \hat A^l E^{(0)}` (symmetric).
    """
    E0 = _array(model.embedding)
    A, n_layers, n_users = model.A_hat, int(model.n_layers), int(model.n_users)
    layers = [E0]
    for _ in range(n_layers):
        layers.append(A @ layers[-1])
    E = sum(layers) / (n_layers + 1)
    Eu, Ei = E[users], E[n_users:]
    p = _softmax_rows(Eu @ Ei.T, temperature)
    du = _array(discriminator.user_embedding)[users]
    f = (du[:, None, :] * _array(discriminator.item_embedding)[items]).sum(-1)
    r = np.logaddexp(0.0, f + _array(discriminator.item_bias)[items])
    B, K = items.shape
    b = {
        "mean": r.mean(axis=1, keepdims=True),
        "loo": (r.sum(axis=1, keepdims=True) - r) / (K - 1),
        "none": np.zeros_like(r),
        "batch": np.full_like(r, r.mean()),
    }[kind]
    a = r - b
    g_z = p * a.sum(axis=1, keepdims=True)
    np.add.at(g_z, (np.repeat(np.arange(B), K), items.ravel()), -a.ravel())
    g_s = g_z / (B * K * temperature)
    dE = np.zeros_like(E)
    np.add.at(dE, users, g_s @ Ei)
    dE[n_users:] += g_s.T @ Eu
    out, cur = dE.copy(), dE
    for _ in range(n_layers):
        cur = A.T @ cur
        out += cur
    return out / (n_layers + 1)


def _grad_array(name: str, value, shape) -> np.ndarray:
    if value is None:
        _fail(
            "5.4",
            f"{name} is None: the tape did not connect the loss to G.model.embedding",
            "compute the loss inside `with tf.GradientTape() as tape:` and take "
            "tape.gradient(loss, G.model.embedding) for the same G",
        )
    arr = _array(value)
    if arr.shape != shape:
        _fail(
            "5.4",
            f"{name} has shape {arr.shape}, the ego embeddings {shape}",
            "the gradient with respect to G.model.embedding (all users and items), as a "
            "NumPy array: tape.gradient(loss, G.model.embedding).numpy()",
        )
    if not np.isfinite(arr).all():
        _fail("5.4", f"{name} has non-finite entries", "recompute it from fresh players")
    return arr


def check_baseline_gradients(
    grad_mean, grad_loo, model, discriminator, users, items, temperature: float = 1.0
) -> bool:
    r"""Exercise 5.4: the REINFORCE gradient with the mean-of-K baseline vs leave-one-out.

    With :math:`\bar r_u = \frac1K\sum_l r_{ul}` and the leave-one-out mean
    :math:`b_{uk} = \frac{1}{K-1}\sum_{l \ne k} r_{ul}`,
    :math:`r_{uk} - \bar r_u = \frac{K-1}{K}(r_{uk} - b_{uk})`, so the mean-of-K gradient is
    exactly :math:`\frac{K-1}{K}` times the leave-one-out one. Both are recomputed here in
    NumPy (no TensorFlow) from the pre-trained players and the drawn items.

    Args:
        grad_mean, grad_loo: the student's gradients with respect to the ego embeddings,
            ``(n_users + n_items, dim)``.
        model: the pre-trained LightGCN the fresh generator copies (``A_hat``, ``embedding``,
            ``n_layers``); discriminator: the pre-trained discriminator (not stepped).
        users: int ``(B,)``; items: the drawn items ``(B, K)``; temperature: the policy's τ.
    """
    users = np.asarray(users, dtype=np.int64).ravel()
    items = _array(items, dtype=np.int64)
    if items.ndim != 2 or items.shape[0] != users.size:
        _fail(
            "5.4",
            f"drawn has shape {items.shape} for {users.size} users",
            "keep the items generator_loss returns: one row of K draws per user of g_users",
        )
    K = items.shape[1]
    if K < 2:
        _fail("5.4", "one draw per user: no baseline can use the other draws", "use K >= 2")
    shape = _array(model.embedding).shape
    gm = _grad_array("grad_mean", grad_mean, shape)
    gl = _grad_array("grad_loo", grad_loo, shape)
    want = {
        k: _reinforce_gradient(model, discriminator, users, items, float(temperature), k)
        for k in _BASELINE_NAMES
    }

    def close(got, ref):
        return bool(np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max() + 1e-12)

    def diagnose(name: str, got: np.ndarray, right: str) -> None:
        if close(got, want[right]):
            return
        if close(got, -want[right]):
            _fail(
                "5.4",
                f"{name} has the wrong sign",
                "the loss is minus the mean of advantage x log-probability",
            )
        for kind, what in _BASELINE_NAMES.items():
            if kind != right and close(got, want[kind]):
                _fail(
                    "5.4",
                    f"{name} is the gradient with {what}, not {_BASELINE_NAMES[right]}",
                    "mean_baseline(r) = tf.reduce_mean(r, axis=1, keepdims=True)"
                    if right == "mean"
                    else "pass baseline=loo_baseline (the default of generator_loss)",
                )
        _fail(
            "5.4",
            f"{name} is not the gradient of §4.1's loss for these users and draws",
            "fresh players (new_players()), the same g_users and uniforms, no optimiser step "
            "before tape.gradient, and drawn = the items generator_loss returned",
        )

    diagnose("grad_loo", gl, "loo")
    diagnose("grad_mean", gm, "mean")
    ratio = float((gm * gl).sum() / (gl * gl).sum())
    return _ok(
        "5.4",
        f"grad_mean = {ratio:.4f} × grad_loo = (K − 1)/K for K = {K}: including the draw's own "
        "reward shrinks every advantage by that factor, so the estimate's expectation is "
        f"{(K - 1) / K:.4f} × the true gradient — biased by a constant scale (Adam's "
        "per-weight step hides it), unlike the leave-one-out baseline",
    )
