"""Exercise checks of notebook 07 accept right answers and explain typical wrong ones."""

from __future__ import annotations

from gnnrec_utils import exercises

import numpy as np
import pytest

pytestmark = pytest.mark.unit

DAY = 24 * 3600.0

# Exercise 7.1: popularity with a half-life ----------------------------------------------------


def _decayed(items, times, now, half_life_days, n_items):
    items, times = np.asarray(items), np.asarray(times, dtype=np.float64)
    past = times < now
    w = np.exp2(-(now - times[past]) / (half_life_days * DAY))
    return np.bincount(items[past], weights=w, minlength=n_items)


def test_decayed_popularity_accepts_the_definition(capsys):
    assert exercises.check_decayed_popularity(_decayed)
    assert "✓ Exercise 7.1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (
            lambda i, t, now, h, n: np.bincount(
                i, weights=np.exp2(-(now - np.asarray(t)) / (h * DAY)), minlength=n
            ),
            "at or after `now` were counted",
        ),
        (lambda i, t, now, h, n: _decayed(i, t, now, h / DAY, n), "in days against times"),
        (
            lambda i, t, now, h, n: np.bincount(
                np.asarray(i)[np.asarray(t) < now],
                weights=np.exp(-(now - np.asarray(t)[np.asarray(t) < now]) / (h * DAY)),
                minlength=n,
            ),
            "halve every h·ln 2",
        ),
        (lambda i, t, now, h, n: _decayed(i, t, now, h, n)[:-1], "shape"),
        (lambda i, t, now, h, n: _decayed(i, t, now, h, n) * 2, "differ from the definition"),
    ],
)
def test_decayed_popularity_names_the_mistake(wrong, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_decayed_popularity(wrong)


def test_decayed_popularity_reports_an_exception():
    def broken(*args):
        raise KeyError("x")

    with pytest.raises(exercises.ExerciseFeedback, match="raised KeyError"):
        exercises.check_decayed_popularity(broken)


# Exercise 7.2: genre profile ------------------------------------------------------------------


@pytest.fixture(scope="module")
def genre_setup():
    rng = np.random.default_rng(0)
    n_users, n_items, n_genres = 7, 30, 5
    genres = (rng.random((n_items, n_genres)) < 0.4).astype(float)
    users = rng.integers(0, n_users - 1, 80)  # the last user has no training ratings
    items = rng.integers(0, n_items, 80)
    key = np.unique(users * n_items + items)
    users, items = key // n_items, key % n_items
    R = np.zeros((n_users, n_items))
    R[users, items] = 1
    profile = (R @ genres) / np.maximum(R.sum(axis=1), 1)[:, None]
    return (users, items), genres, profile, R


def test_genre_profile_accepts_the_definition(genre_setup, capsys):
    train, genres, profile, _ = genre_setup
    assert exercises.check_genre_profile(profile, train, genres)
    assert profile[-1].sum() == 0
    assert "✓ Exercise 7.2" in capsys.readouterr().out


def test_genre_profile_names_the_mistakes(genre_setup):
    train, genres, profile, R = genre_setup
    rows = profile.sum(axis=1, keepdims=True)
    with pytest.raises(exercises.ExerciseFeedback, match="sums to 1"):
        exercises.check_genre_profile(profile / np.where(rows > 0, rows, 1), train, genres)
    with pytest.raises(exercises.ExerciseFeedback, match="counts"):
        exercises.check_genre_profile(R @ genres, train, genres)
    with pytest.raises(exercises.ExerciseFeedback, match="shape"):
        exercises.check_genre_profile(profile[:, :-1], train, genres)
    with pytest.raises(exercises.ExerciseFeedback, match="from the definition"):
        exercises.check_genre_profile(profile + 0.01, train, genres)


# Exercise 7.3: noise as a defence ---------------------------------------------------------------


def _add_noise(E, sigma, seed):
    return np.asarray(E, dtype=np.float64) + sigma * np.random.default_rng(seed).standard_normal(
        np.shape(E)
    )


def test_add_noise_accepts_the_definition(capsys):
    assert exercises.check_add_noise(_add_noise)
    assert "✓ Exercise 7.3" in capsys.readouterr().out


def _in_place(E, sigma, seed):
    E += sigma * np.random.default_rng(seed).standard_normal(E.shape)
    return E


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_in_place, "changed in place"),
        (lambda E, s, seed: E + s * np.random.standard_normal(E.shape), "global random state"),
        (lambda E, s, seed: _add_noise(E, s, 0), "another seed gives the same noise"),
        (lambda E, s, seed: _add_noise(E, 2 * s, seed), "standard deviation"),
        (lambda E, s, seed: _add_noise(E, s, seed)[:, :-1], "shape"),
    ],
)
def test_add_noise_names_the_mistake(wrong, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_add_noise(wrong)
