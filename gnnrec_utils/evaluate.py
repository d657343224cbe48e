r"""Full-ranking evaluation, and the command line: interaction files in, metrics out.

Full-ranking protocol (LightGCN, RecBole)
-----------------------------------------
For every user with at least one held-out item, score **all** items, remove the user's
training items (and, when evaluating test, also the validation items) from the candidates,
take the top K and compare with the held-out set :math:`R(u)`:

.. math::
    \mathrm{Recall@K}(u) = \frac{|\mathrm{top}_K(u) \cap R(u)|}{|R(u)|}, \qquad
    \mathrm{Precision@K}(u) = \frac{|\mathrm{top}_K(u) \cap R(u)|}{K}, \qquad
    \mathrm{Hit@K}(u) = \mathbb 1\big[\mathrm{top}_K(u) \cap R(u) \neq \emptyset\big],

.. math::
    \mathrm{NDCG@K}(u) = \frac{\sum_{r=1}^{K} \mathrm{rel}_u(r) / \log_2(r+1)}
                              {\sum_{r=1}^{\min(|R(u)|, K)} 1 / \log_2(r+1)}, \qquad
    \mathrm{MAP@K}(u) = \frac{1}{\min(|R(u)|, K)} \sum_{r=1}^{K}
                         \mathrm{Precision@r}(u)\,\mathrm{rel}_u(r),

each averaged over the users with :math:`R(u) \neq \emptyset` (binary relevance; ties broken
towards the lower item index). The formulas are implemented, vectorised, in
:mod:`gnnrec_utils.metrics`; :class:`RankingEvaluator` only builds the truth and exclusion
masks once and calls :func:`gnnrec_utils.metrics.evaluate_ranking` (about 40 ms for
943 × 1,682 on the course machine).

Command line
------------
::

    python -m gnnrec_utils.evaluate --model {pop,bpr,lightgcn,gcnmf} \
        --train TRAIN --valid VALID --test TEST [--seed N] [--epochs N] [--out metrics.json]

Reads three interaction files (CSV/TSV with a header: ``user_id``, ``item_id``, optional
``rating`` and ``timestamp``; ids of any kind) with
:func:`gnnrec_utils.data.read_interactions`, maps ids to indices (sorted raw ids: integers
numerically, anything else as text, so MovieLens ids ``1 … n`` become ``0 … n-1`` as in
notebook 01), treats every row as an implicit positive, trains the model (early stopping on
the validation file), and prints the test metrics as JSON (also written to ``--out``).

Rules for the files (each violation is one line on stderr and exit code 2):

- a missing ``user_id``/``item_id`` column, an empty file, a non-numeric rating or timestamp,
  a malformed line: the reader's message;
- a user in the validation or test file who is not in the training file: an error (a model
  trained on these files has no vector for that user, so any number reported for them would
  be made up);
- a (user, item) pair that occurs twice, within or across files: an error (a pair cannot be
  both a training and a test positive);
- fewer than K = 20 candidate items left for a user once their training and validation items
  are removed: an error (full ranking at K would be meaningless);
- items that appear only in the validation/test files are **kept** as candidates, with a
  warning on stderr: they are part of the catalogue (notebook 01's MovieLens split has 44 of
  them) and a recommender that cannot rank them is rightly penalised. The catalogue is the
  union of the items of the three files.

Taught in ``notebooks/03_mf_recommendation.ipynb``.
"""

from __future__ import annotations

import gnnrec_utils  # noqa: F401  (selects tf-keras before TensorFlow loads)
from gnnrec_utils.constants import ITEM_COL, USER_COL
from gnnrec_utils.metrics import TOP_K_METRICS, evaluate_ranking

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "RankingEvaluator",
    "indicator_matrix",
    "full_ranking_metrics",
    "rating_errors",
    "MODEL_DEFAULTS",
    "train_model",
    "main",
]

# --------------------------------------------------------------------------------------------
# Full-ranking evaluation
# --------------------------------------------------------------------------------------------


def indicator_matrix(users, items, n_users: int, n_items: int) -> sp.csr_matrix:
    """Boolean CSR ``(n_users, n_items)`` with True at every ``(users[k], items[k])``."""
    u = np.asarray(users, dtype=np.int64)
    i = np.asarray(items, dtype=np.int64)
    M = sp.csr_matrix((np.ones(u.size, dtype=bool), (u, i)), shape=(n_users, n_items))
    M.sum_duplicates()
    M.data[:] = True
    return M


class RankingEvaluator:
    r"""Full-ranking metrics of a score matrix against one held-out set.

    **Arguments**

    - ``truth``: ``(users, items)`` of the held-out positives (0-based);
    - ``exclude``: a sequence of ``(users, items)`` pairs of arrays masked out before ranking
      — the training interactions for validation; training and validation for test;
    - ``n_users``, ``n_items``; ``ks`` and ``metrics`` as in
      :func:`gnnrec_utils.metrics.evaluate_ranking` (default: Recall, NDCG, Precision, Hit
      rate, MRR and MAP at 10 and 20).

    **Call** with a score matrix ``(n_users, n_items)`` or a model with ``score_all_users()``;
    returns ``{"recall@20": …, "ndcg@20": …, …, "n_users": …}``. ``per_user=True`` returns
    per-user arrays (NaN for users without held-out items).
    """

    def __init__(
        self,
        truth: tuple,
        n_users: int,
        n_items: int,
        exclude: Sequence[tuple] = (),
        ks: Iterable[int] = (10, 20),
        metrics: Sequence[str] = TOP_K_METRICS,
    ):
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.truth = indicator_matrix(*truth, self.n_users, self.n_items)
        ex = sp.csr_matrix((self.n_users, self.n_items), dtype=bool)
        for pair in exclude:
            ex = ex + indicator_matrix(*pair, self.n_users, self.n_items)
        self.exclude = ex.astype(bool).tocsr()
        overlap = self.truth.multiply(self.exclude)
        if overlap.nnz:
            raise ValueError(f"{overlap.nnz} held-out pair(s) are also in an excluded set")
        self.ks = tuple(ks)
        self.metrics = tuple(metrics)
        self._truth_dense = self.truth.toarray()
        self._exclude_dense = self.exclude.toarray()

    def __call__(self, scores, per_user: bool = False) -> dict:
        if hasattr(scores, "score_all_users"):
            scores = scores.score_all_users()
        return evaluate_ranking(
            scores,
            self._truth_dense,
            self._exclude_dense,
            ks=self.ks,
            metrics=self.metrics,
            per_user=per_user,
        )


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


# --------------------------------------------------------------------------------------------
# Training one model with the course defaults (shared by the CLI and notebook 03)
# --------------------------------------------------------------------------------------------

#: Hyperparameters tuned on the validation split of notebook 01's random split (notebook 03
#: uses the same values; ``docs/recommenders.md`` shows the tuning). ``model`` entries go to
#: the model's constructor, ``fit`` entries to :func:`gnnrec_utils.training.fit_bpr`.
MODEL_DEFAULTS: dict[str, dict] = {
    "bpr": {
        "model": {"dim": 64, "init_std": 0.1},
        "fit": {
            "epochs": 300,
            "batch_size": 2048,
            "lr": 2e-3,
            "reg": 1e-2,
            "eval_every": 5,
            "patience": 8,
        },
    },
    "lightgcn": {
        "model": {"dim": 64, "n_layers": 3, "init_std": 0.1},
        "fit": {
            "epochs": 300,
            "batch_size": 2048,
            "lr": 5e-3,
            "reg": 1e-3,
            "eval_every": 5,
            "patience": 8,
        },
    },
    "gcnmf": {
        "model": {
            "dim": 64,
            "n_layers": 2,
            "dropout": 0.1,
            "init_std": 0.03,
            "kernel_init": "identity",
        },
        "fit": {
            "epochs": 300,
            "batch_size": 2048,
            "lr": 1e-3,
            "reg": 1e-2,
            "eval_every": 5,
            "patience": 8,
        },
    },
}


def build_model(name: str, train: tuple, n_users: int, n_items: int, seed: int, **overrides):
    """The model ``name`` (``"pop"``, ``"bpr"``, ``"lightgcn"``, ``"gcnmf"``) with defaults."""
    from gnnrec_utils import models

    if name == "pop":
        return models.PopularityModel(n_users, n_items).fit(*train)
    if name not in MODEL_DEFAULTS:
        raise ValueError(f"unknown model {name!r}; choose pop, bpr, lightgcn or gcnmf")
    kwargs = {**MODEL_DEFAULTS[name]["model"], **overrides, "seed": seed}
    if name == "bpr":
        return models.BPRMF(n_users, n_items, **kwargs)
    if name == "lightgcn":
        return models.lightgcn_from_interactions(*train, n_users, n_items, **kwargs)
    return models.gcnmf_from_interactions(*train, n_users, n_items, **kwargs)


def train_model(
    name: str,
    train: tuple,
    valid: tuple,
    n_users: int,
    n_items: int,
    seed: int = 42,
    epochs: int | None = None,
    progress: bool = True,
    model_kwargs: dict | None = None,
    fit_kwargs: dict | None = None,
    test_evaluator=None,
):
    """Build model ``name`` with :data:`MODEL_DEFAULTS`, train it with early stopping on
    ``valid`` and return ``(model, history)`` (``history`` is None for ``"pop"``).

    Seeds the model's initialisers and the sampler with ``seed`` (and TensorFlow's global
    seed, for ops without their own), so the same call gives the same model.
    """
    from gnnrec_utils.seeding import seed_everything
    from gnnrec_utils.training import fit_bpr

    seed_everything(seed)
    model = build_model(name, train, n_users, n_items, seed, **(model_kwargs or {}))
    if name == "pop":
        return model, None
    fit = {**MODEL_DEFAULTS[name]["fit"], **(fit_kwargs or {})}
    if epochs is not None:
        fit["epochs"] = int(epochs)
    evaluator = RankingEvaluator(valid, n_users, n_items, exclude=[train])
    history = fit_bpr(
        model,
        *train,
        evaluator=evaluator,
        test_evaluator=test_evaluator,
        seed=seed,
        progress=progress,
        desc=name,
        **fit,
    )
    return model, history


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class InputError(ValueError):
    """A problem with the user's files, reported as one line and exit code 2."""


def _sorted_ids(values: Iterable) -> list:
    ids = pd.unique(pd.Series(list(values)))
    try:
        return sorted(ids)
    except TypeError:  # mixed kinds (ints in one file, text in another): sort as text
        return sorted(ids, key=str)


def _show(value) -> str:
    """``repr`` of a raw id as the user wrote it (no ``np.int64(…)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _read(path: str, role: str) -> pd.DataFrame:
    from gnnrec_utils.data import DataFormatError, read_interactions

    if not Path(path).is_file():
        raise InputError(f"{role} file {path!r} does not exist")
    try:
        frame = read_interactions(path)
    except DataFormatError as error:
        raise InputError(" ".join(str(error).split())) from None
    return frame


def _as_text_ids(frames: dict[str, pd.DataFrame], col: str) -> None:
    """If a column holds ints in one file and text in another, make it text everywhere."""
    kinds = {pd.api.types.is_integer_dtype(f[col].dtype) for f in frames.values()}
    if len(kinds) > 1:
        for f in frames.values():
            f[col] = f[col].astype(str)


def load_split_files(
    train: str, valid: str, test: str, warn=print, ks: Iterable[int] = (10, 20)
) -> dict:
    """Read and check three interaction files; map raw ids to 0-based indices.

    **Output**: dict with ``"train"``, ``"valid"``, ``"test"`` (each ``(users, items)`` int64
    arrays), ``"n_users"``, ``"n_items"``, ``"user_ids"``, ``"item_ids"`` (raw ids by index).
    Raises :class:`InputError` for every rule in this module's docstring.
    """
    frames = {
        role: _read(path, role)
        for role, path in (("train", train), ("valid", valid), ("test", test))
    }
    for col in (USER_COL, ITEM_COL):
        _as_text_ids(frames, col)
    user_ids = _sorted_ids(frames["train"][USER_COL])
    user_index = {u: k for k, u in enumerate(user_ids)}
    for role in ("valid", "test"):
        unknown = pd.unique(frames[role][USER_COL][~frames[role][USER_COL].isin(user_index)])
        if len(unknown):
            raise InputError(
                f"{len(unknown)} user(s) in the {role} file are not in the training file "
                f"(first: {_show(unknown[0])}); every {role} user needs training interactions"
            )
    item_ids = _sorted_ids(pd.concat([f[ITEM_COL] for f in frames.values()]))
    item_index = {i: k for k, i in enumerate(item_ids)}
    out: dict = {"user_ids": user_ids, "item_ids": item_ids}
    out["n_users"], out["n_items"] = len(user_ids), len(item_ids)
    keys = []
    for role, frame in frames.items():
        u = frame[USER_COL].map(user_index).to_numpy(dtype=np.int64)
        i = frame[ITEM_COL].map(item_index).to_numpy(dtype=np.int64)
        out[role] = (u, i)
        keys.append(u * out["n_items"] + i)
    all_keys = np.concatenate(keys)
    uniq, counts = np.unique(all_keys, return_counts=True)
    if (counts > 1).any():
        k = int(uniq[np.argmax(counts > 1)])
        raise InputError(
            f"{int((counts > 1).sum())} (user, item) pair(s) occur more than once across the "
            f"files (first: user {_show(user_ids[k // out['n_items']])}, item "
            f"{_show(item_ids[k % out['n_items']])}); deduplicate them"
        )
    seen = np.bincount(out["train"][0], minlength=out["n_users"]) + np.bincount(
        out["valid"][0], minlength=out["n_users"]
    )
    short = out["n_items"] - seen < max(ks)
    if short.any():
        u = int(np.argmax(short))
        raise InputError(
            f"full ranking at K={max(ks)} needs at least {max(ks)} candidate items per user "
            f"after removing the user's training and validation items; user "
            f"{_show(user_ids[u])} has {out['n_items'] - int(seen[u])} of {out['n_items']}"
        )
    train_items = set(frames["train"][ITEM_COL])
    for role in ("valid", "test"):
        only = pd.unique(frames[role][ITEM_COL][~frames[role][ITEM_COL].isin(train_items)])
        if len(only):
            warn(
                f"warning: {len(only)} item(s) of the {role} file never occur in the training "
                f"file (first: {_show(only[0])}); they stay in the catalogue as candidates"
            )
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gnnrec_utils.evaluate",
        description="Train a recommender on interaction files and print full-ranking test "
        "metrics (Recall, NDCG, Precision, Hit rate, MRR, MAP at 10 and 20) as JSON.",
    )
    p.add_argument("--model", required=True, choices=["pop", "bpr", "lightgcn", "gcnmf"])
    p.add_argument("--train", required=True, help="training interactions (CSV/TSV, header)")
    p.add_argument("--valid", required=True, help="validation interactions (early stopping)")
    p.add_argument("--test", required=True, help="test interactions (reported)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: tuned)")
    p.add_argument("--out", default=None, help="also write the metrics JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gnnrec_utils.evaluate``; returns the exit code."""
    args = _parser().parse_args(None if argv is None else list(argv))
    if args.epochs is not None and args.epochs < 1:
        print("error: --epochs must be >= 1", file=sys.stderr)
        return 2

    def warn(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        data = load_split_files(args.train, args.valid, args.test, warn=warn)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    n_users, n_items = data["n_users"], data["n_items"]
    model, history = train_model(
        args.model,
        data["train"],
        data["valid"],
        n_users,
        n_items,
        seed=args.seed,
        epochs=args.epochs,
        progress=not args.quiet,
    )
    scores = model.score_all_users()
    test_eval = RankingEvaluator(
        data["test"], n_users, n_items, exclude=[data["train"], data["valid"]]
    )
    valid_eval = RankingEvaluator(data["valid"], n_users, n_items, exclude=[data["train"]])
    result = {
        "model": args.model,
        "seed": args.seed,
        "n_users": n_users,
        "n_items": n_items,
        "n_train": int(data["train"][0].size),
        "n_valid": int(data["valid"][0].size),
        "n_test": int(data["test"][0].size),
        "test": test_eval(scores),
        "valid": valid_eval(scores),
    }
    if history is not None:
        result["best_epoch"] = history["best_epoch"]
        result["stopped_epoch"] = history["stopped_epoch"]
        result["train_seconds"] = round(history["train_seconds"], 2)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raise SystemExit(main())
