r"""Exercise checks for notebook 07 (the article's open questions).

- 7.1 :func:`check_decayed_popularity`: popularity with a half-life,
  :math:`\text{score}_i = \sum_{t < t_\text{now}} 2^{-(t_\text{now} - t)/h}`;
- 7.2 :func:`check_genre_profile`: each user's share of training ratings per genre,
  :math:`P_{ug} = |\{i \in N(u): g \in \text{genres}(i)\}| / |N(u)|`, shape ``(n_users, 19)``;
- 7.3 :func:`check_add_noise`: :math:`E + \sigma Z` with :math:`Z` standard normal from
  ``np.random.default_rng(seed)``.

Each check recomputes the answer with plain loops of its own on small synthetic data (7.1,
7.3) or on the notebook's data (7.2), and names the typical mistake when the answer differs.
"""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok

from collections.abc import Callable

import numpy as np

__all__ = ["check_decayed_popularity", "check_genre_profile", "check_add_noise"]

DAY = 24 * 3600.0


# Exercise 7.1 ---------------------------------------------------------------------------------


def _plain_decayed(items, times, now, half_life_days, n_items) -> np.ndarray:
    out = np.zeros(n_items)
    for i, t in zip(items, times, strict=True):
        if t < now:
            out[i] += 0.5 ** ((now - t) / (half_life_days * DAY))
    return out


def check_decayed_popularity(fn: Callable) -> bool:
    """Exercise 7.1: ``fn(items, times, now, half_life_days, n_items) -> (n_items,)``."""
    rng = np.random.default_rng(7)
    n_items = 12
    items = rng.integers(0, n_items - 1, 300)  # the last item never occurs
    times = rng.uniform(0, 30 * DAY, 300).round()
    now = 20 * DAY
    for h in (1.0, 7.0):
        try:
            got = np.asarray(fn(items, times, now, h, n_items), dtype=np.float64)
        except Exception as err:  # noqa: BLE001 (report any failure as feedback)
            _fail(
                "7.1",
                f"the call raised {type(err).__name__}: {err}",
                "decayed_popularity(items, times, now, half_life_days, n_items)",
            )
        if got.shape != (n_items,):
            _fail(
                "7.1",
                f"shape {got.shape}, expected ({n_items},)",
                "one score per item: np.bincount(..., minlength=n_items)",
            )
        want = _plain_decayed(items, times, now, h, n_items)
        if np.allclose(got, want):
            continue
        with_future = np.bincount(
            items, weights=0.5 ** ((now - times) / (h * DAY)), minlength=n_items
        )
        if np.allclose(got, with_future):
            _fail(
                "7.1",
                "interactions at or after `now` were counted",
                "keep only times < now: the future is not known yet",
            )
        if np.allclose(got, _plain_decayed(items, times, now, h / DAY, n_items)):
            _fail(
                "7.1",
                "the half-life was used in days against times in seconds",
                "convert: half_life_days * 24 * 3600",
            )
        base_e = np.zeros(n_items)
        for i, t in zip(items, times, strict=True):
            if t < now:
                base_e[i] += np.exp(-(now - t) / (h * DAY))
        if np.allclose(got, base_e):
            _fail(
                "7.1",
                "weights exp(-age/h) halve every h·ln 2, not every h",
                "use 2 ** (-age / h), i.e. np.exp2",
            )
        _fail(
            "7.1",
            f"scores differ from the definition (max |diff| "
            f"{np.max(np.abs(got - want)):.3g} for h = {h:g} days)",
            "score_i = sum over past interactions of 2^(-(now - t) / h)",
        )
    long = np.asarray(fn(items, times, now, 1e9, n_items), dtype=np.float64)
    counts = np.bincount(items[times < now], minlength=n_items)
    if not np.allclose(long, counts, rtol=1e-6):
        _fail("7.1", "an infinite half-life should give plain counts", "check the weights")
    return _ok(
        "7.1",
        f"matches the definition; half-life → ∞ gives the counts "
        f"(item 0: {counts[0]} past interactions)",
    )


# Exercise 7.2 ---------------------------------------------------------------------------------


def check_genre_profile(profile, train, genre_matrix) -> bool:
    """Exercise 7.2: ``profile`` ``(n_users, n_genres)`` from the training pairs ``train``
    and the items' 0/1 ``genre_matrix`` ``(n_items, n_genres)``."""
    P = np.asarray(profile, dtype=np.float64)
    Gm = np.asarray(genre_matrix, dtype=np.float64)
    users, items = (np.asarray(a) for a in train)
    n_users = int(users.max()) + 1
    if P.ndim != 2 or P.shape[1] != Gm.shape[1] or P.shape[0] < n_users:
        _fail(
            "7.2",
            f"shape {P.shape}",
            f"one row per user, one column per genre: (n_users, {Gm.shape[1]})",
        )
    want = np.zeros_like(P)
    pairs = np.unique(users * Gm.shape[0] + items)  # each (user, film) once
    n_rated = np.bincount(pairs // Gm.shape[0], minlength=P.shape[0]).astype(np.float64)
    for key in pairs:
        u, i = divmod(int(key), Gm.shape[0])
        want[u] += Gm[i]
    want /= np.maximum(n_rated, 1)[:, None]
    if np.allclose(P, want):
        mean_f = want[n_rated > 0].sum(axis=1).mean()
        return _ok(
            "7.2",
            f"shares of each user's rated films per genre (a film counts for each "
            f"of its genres: rows sum to {mean_f:.2f} genres per film on average)",
        )
    rows = want.sum(axis=1, keepdims=True)
    if np.allclose(P, want / np.where(rows > 0, rows, 1)):
        _fail(
            "7.2",
            "each row sums to 1 over the genres",
            "divide by the number of films the user rated, not by the number of genre tags",
        )
    counts = want * np.maximum(n_rated, 1)[:, None]
    if np.allclose(P, counts):
        _fail("7.2", "these are counts", "divide each row by the user's number of rated films")
    _fail(
        "7.2",
        f"max |diff| {np.max(np.abs(P - want)):.3g} from the definition",
        "profile = (R @ genre_matrix) / (films rated per user), R the 0/1 training matrix",
    )
    return False


# Exercise 7.3 ---------------------------------------------------------------------------------


def check_add_noise(fn: Callable) -> bool:
    """Exercise 7.3: ``fn(E, sigma, seed) -> E + sigma * Z``, Z from default_rng(seed)."""
    E = np.random.default_rng(3).normal(size=(400, 16))
    before = E.copy()
    state = np.random.get_state()
    try:
        out = np.asarray(fn(E, 0.5, 11), dtype=np.float64)
    except Exception as err:  # noqa: BLE001
        _fail("7.3", f"the call raised {type(err).__name__}: {err}", "add_noise(E, sigma, seed)")
    if not np.array_equal(E, before):
        _fail("7.3", "E was changed in place", "return a new array: E + sigma * Z")
    if out.shape != E.shape:
        _fail("7.3", f"shape {out.shape}, expected {E.shape}", "one noise value per entry")
    global_used = not all(
        np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
        for a, b in zip(state, np.random.get_state(), strict=True)
    )
    if global_used:
        _fail(
            "7.3",
            "NumPy's global random state was used",
            "draw from rng = np.random.default_rng(seed)",
        )
    if not np.allclose(out, np.asarray(fn(E, 0.5, 11))):
        _fail("7.3", "two calls with the same seed differ", "seed the generator with `seed`")
    if np.allclose(out, np.asarray(fn(E, 0.5, 12))):
        _fail("7.3", "another seed gives the same noise", "use the seed argument")
    if not np.allclose(np.asarray(fn(E, 0.0, 11)), E):
        _fail("7.3", "sigma = 0 changes E", "the noise is sigma times standard normal draws")
    want = E + 0.5 * np.random.default_rng(11).standard_normal(E.shape)
    if not np.allclose(out, want):
        sd = float(np.std(out - E))
        _fail(
            "7.3",
            f"the noise has standard deviation {sd:.3f}, or other draws (want 0.5 "
            "from rng.standard_normal)",
            "E + sigma * rng.standard_normal(E.shape)",
        )
    return _ok(
        "7.3", f"E + σZ, reproducible, E untouched (noise std {np.std(out - E):.3f} for σ = 0.5)"
    )
