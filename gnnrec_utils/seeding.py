"""The course's one seeding helper.

Library functions never touch global random state: they take ``seed=`` or ``rng=``.
Notebooks call :func:`seed_everything` at the top of each training cell so that re-running
that one cell reproduces its result (handson-ml3's habit).
"""

from __future__ import annotations

import os
import random

import numpy as np


def rng(seed: int | None) -> np.random.Generator:
    """A fresh NumPy generator for ``seed`` (the way library code receives randomness)."""
    return np.random.default_rng(seed)


def seed_everything(seed: int, tensorflow: bool = True) -> None:
    """Seed Python's ``random``, NumPy's legacy global generator and, if loaded, TensorFlow.

    Also sets ``PYTHONHASHSEED`` for subprocesses. TensorFlow is seeded only when it is
    already imported or ``tensorflow=True`` (the default), so data-only notebooks stay light.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow:
        import tensorflow as tf

        tf.random.set_seed(seed)
        try:
            tf.keras.utils.set_random_seed(seed)
        except AttributeError:  # pragma: no cover - very old tf-keras
            pass
