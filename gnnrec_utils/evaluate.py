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
:mod:`gnnrec_utils.metrics`; :class:`RankingEvaluator` builds the truth and exclusion masks
once (sparse) and calls :func:`gnnrec_utils.metrics.evaluate_ranking` on batches of users, so
its memory is bounded by :data:`EVAL_BATCH_BYTES` whatever the number of users (about 40 ms
for 943 × 1,682 on the course machine, one batch).

Command line
------------
::

    python -m gnnrec_utils.evaluate --model {pop,ease,gf-cf,bpr,lightgcn,gcnmf} \
        --train TRAIN --valid VALID --test TEST [--seed N] [--epochs N] [--out metrics.json]
        [--timings] [--quiet]

Reads three interaction files (CSV/TSV with a header: ``user_id``, ``item_id``, optional
``rating`` and ``timestamp``; ids of any kind) with
:func:`gnnrec_utils.data.read_interactions`, maps ids to indices (sorted raw ids: integers
numerically, anything else as text, so MovieLens ids ``1 … n`` become ``0 … n-1`` as in
notebook 01), treats every row as an implicit positive, fits the model and prints the test
(and validation) metrics as JSON, also written to ``--out``. Models: ``pop`` (popularity),
``ease`` (EASE) and ``gf-cf`` (the GF-CF graph filter) are fitted in closed form
(:mod:`gnnrec_utils.closed_form`; ``--epochs`` does not apply); ``bpr``, ``lightgcn`` and
``gcnmf`` are trained with BPR and early stopping on the validation file. Hyperparameters are
:data:`MODEL_DEFAULTS`.

**Reproducible output.** The JSON holds only what the files, ``--model``, ``--seed`` and
``--epochs`` determine, with sorted keys, so two identical runs write byte-identical files
(``diff`` them). Wall-clock times vary from run to run; ``--timings`` adds them as a
``"timings"`` section (``fit_seconds``, ``evaluate_seconds``), at the price of that property.

**Exit codes.** 0: success. 2: a bad argument or file, one line ``error: …`` on stderr,
found before any training, nothing written. 1: the run finished but ``--out`` could not be
written (e.g. the disk filled up); the metrics are still on stdout.

``--out`` is checked before the files are even read: a folder, a path under a file, a
device such as ``/dev/full`` or a folder that cannot be written is refused (exit 2). The file
is written to a temporary file in the same folder and renamed into place (``os.replace``),
so a failed or interrupted write leaves the previous file intact. ``--seed`` must lie in
``0 … 2**32 - 1`` (NumPy's seed range).

Rules for the files (each violation is one line on stderr and exit code 2):

- a missing ``user_id``/``item_id`` column, an empty file, a non-numeric rating or timestamp,
  a malformed line, an id that is a missing-value marker (``NaN``, ``NA``, ``null`` …): the
  reader's message;
- an id spelled differently in two files — ``13.0`` or ``013`` in the test file for ``13`` in
  the training file: an error (matching them as text would silently turn one item into two,
  and report wrong metrics). A whole column of ``13.0``-style ids is read as integers, so a
  file saved by pandas from a float column matches one with plain integers;
- a user in the validation or test file who is not in the training file: an error (a model
  trained on these files has no vector for that user, so any number reported for them would
  be made up);
- a (user, item) pair that occurs twice, within or across files: an error (a pair cannot be
  both a training and a test positive);
- fewer than K = 20 candidate items left for a user once their training and validation items
  are removed: an error (full ranking at K would be meaningless);
- a model whose dense matrices cannot fit in the available memory (``ease``/``gf-cf``: a few
  items × items matrices; ``bpr``/``lightgcn``/``gcnmf``: the users × items score matrix the
  training loop evaluates): an error before training, with the sizes;
- items that appear only in the validation/test files are **kept** as candidates, with a
  warning on stderr: they are part of the catalogue (notebook 01's MovieLens split has 44 of
  them) and a recommender that cannot rank them is rightly penalised. The catalogue is the
  union of the items of the three files.

Robustness probes and the tests that cover them: ``docs/robustness.md``.

Taught in ``notebooks/03_mf_recommendation.ipynb``.
"""

from __future__ import annotations

import gnnrec_utils  # noqa: F401  (selects tf-keras before TensorFlow loads)
from gnnrec_utils.constants import ITEM_COL, USER_COL
from gnnrec_utils.metrics import RankingEvaluator
from gnnrec_utils.recipes import (
    CLOSED_FORM_MODELS,
    MODEL_DEFAULTS,
    MODEL_NAMES,
    TRAINED_MODELS,
    train_model,
)

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["main", "load_split_files", "InputError"]

# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class InputError(ValueError):
    """A problem with the user's arguments or files, reported as one line and exit code 2."""


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

    if not Path(path).exists():
        raise InputError(f"{role} file {path!r} does not exist")
    if not Path(path).is_file():
        raise InputError(f"{role} file {path!r} is not a regular file")
    try:
        frame = read_interactions(path)
    except DataFormatError as error:
        raise InputError(" ".join(str(error).split())) from None
    except OSError as error:
        raise InputError(f"cannot read the {role} file {path!r} ({error.strerror})") from None
    return frame


def _as_text_ids(frames: dict[str, pd.DataFrame], col: str) -> None:
    """If a column holds ints in one file and text in another, make it text everywhere."""
    kinds = {pd.api.types.is_integer_dtype(f[col].dtype) for f in frames.values()}
    if len(kinds) > 1:
        for f in frames.values():
            f[col] = f[col].astype(str)


def _as_number(value) -> Decimal | None:
    """The number an id spells (``13``, ``"13.0"``, ``"013"``, ``"1.3e1"`` → 13), else None.

    Exact (``Decimal``), so long integer ids are never confused by float rounding.
    """
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _spelled_differently(unknown: Iterable, known: Iterable) -> tuple | None:
    """The first ``(id, known id)`` that differ as text but name the same number, or None.

    Catches ``"13.0"`` against ``13`` or ``"013"`` against ``"13"``: one file wrote its ids
    another way, and matching them as text would silently make new users or items.
    """
    if not len(unknown):
        return None
    by_number: dict[Decimal, object] = {}
    for value in known:
        number = _as_number(value)
        if number is not None:
            by_number.setdefault(number, value)
    for value in unknown:
        number = _as_number(value)
        if number is not None and number in by_number:
            return value, by_number[number]
    return None


def _spelling_error(role: str, col: str, clash: tuple) -> InputError:
    return InputError(
        f"{col} {_show(clash[0])} of the {role} file is spelled {_show(clash[1])} in the "
        f"training file; write the ids the same way in all three files"
    )


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
            clash = _spelled_differently(unknown, user_ids)
            if clash is not None:
                raise _spelling_error(role, USER_COL, clash)
            raise InputError(
                f"{len(unknown)} user(s) in the {role} file are not in the training file "
                f"(first: {_show(unknown[0])}); every {role} user needs training interactions"
            )
    train_items = pd.unique(frames["train"][ITEM_COL])
    for role in ("valid", "test"):
        only = pd.unique(frames[role][ITEM_COL][~frames[role][ITEM_COL].isin(train_items)])
        clash = _spelled_differently(only, train_items)
        if clash is not None:
            raise _spelling_error(role, ITEM_COL, clash)
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
    train_set = set(train_items)
    for role in ("valid", "test"):
        only = pd.unique(frames[role][ITEM_COL][~frames[role][ITEM_COL].isin(train_set)])
        if len(only):
            warn(
                f"warning: {len(only)} item(s) of the {role} file never occur in the training "
                f"file (first: {_show(only[0])}); they stay in the catalogue as candidates"
            )
    return out


# Rough peak memory of each model on the CLI's path, in bytes (see _check_memory).
def _memory_needed(model: str, n_users: int, n_items: int) -> tuple[int, str]:
    if model in ("ease", "gf-cf"):
        return 5 * 8 * n_items**2, f"about five dense {n_items:,} × {n_items:,} float64 matrices"
    if model in TRAINED_MODELS:
        # fit_bpr hands the validation evaluator a dense float32 score matrix of every user
        return 4 * n_users * n_items, f"a dense {n_users:,} × {n_items:,} float32 score matrix"
    return 0, ""


def _available_memory() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_memory(model: str, n_users: int, n_items: int) -> None:
    """Refuse, before any training, a model whose dense matrices cannot fit in memory."""
    needed, what = _memory_needed(model, n_users, n_items)
    available = _available_memory()
    if available is not None and needed > available:
        raise InputError(
            f"--model {model} needs {what} (about {_size(needed)}) for {n_users:,} users × "
            f"{n_items:,} items, but only {_size(available)} of memory is available; use "
            "--model pop or a smaller catalogue"
        )


def _size(n_bytes: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{int(n_bytes)} bytes"


def _check_gfcf(n_users: int, n_items: int) -> None:
    k = MODEL_DEFAULTS["gf-cf"]["model"]["k"]
    if k >= min(n_users, n_items):
        raise InputError(
            f"--model gf-cf keeps k={k} graph frequencies, which needs more than {k} users and "
            f"{k} items; these files have {n_users} users and {n_items} items"
        )


def _prepare_out(out: str) -> Path:
    """Check, before any work, that the metrics file ``out`` can be written; return it.

    The folder is created if missing; a test file is created and removed in it, so a
    read-only folder or a full disk is found now, not after training.
    """
    path = Path(out)
    if path.is_dir():
        raise InputError(f"--out {out!r} is a folder; name a file, e.g. {out}/metrics.json")
    if path.exists() and not path.is_file():
        raise InputError(
            f"--out {out!r} is not a regular file (a device, pipe or socket); name a file "
            "(the metrics are printed on stdout anyway)"
        )
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out {out!r} lies under {str(parent)!r}, which is a file")
            break
    folder = path.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise InputError(
            f"--out {out!r}: cannot write in the folder {str(folder)!r} ({error.strerror}); "
            "choose a writable folder"
        ) from None
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it onto ``path``.

    An interrupted or failed write (full disk, file size limit, kill) leaves ``path`` as it
    was; the temporary file is removed on any Python-level failure.
    """
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            mode = path.stat().st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


MAX_SEED = 2**32 - 1  # NumPy's legacy seeding accepts 0 … 2**32 - 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gnnrec_utils.evaluate",
        description="Train a recommender on interaction files and print full-ranking test "
        "metrics (Recall, NDCG, Precision, Hit rate, MRR, MAP at 10 and 20) as JSON. The "
        "JSON is byte-identical for the same files, model, seed and epochs (timings only "
        "with --timings).",
        epilog="Models: pop (popularity), ease (EASE, closed form), gf-cf (GF-CF graph "
        "filter, closed form), bpr (BPR-MF), lightgcn, gcnmf (trained with BPR and early "
        "stopping on --valid). Exit codes: 0 success; 2 bad arguments or files (nothing "
        "trained, no file written); 1 the metrics could not be written to --out (the "
        "previous file is left unchanged).",
    )
    p.add_argument("--model", required=True, choices=list(MODEL_NAMES))
    p.add_argument("--train", required=True, help="training interactions (CSV/TSV, header)")
    p.add_argument("--valid", required=True, help="validation interactions (early stopping)")
    p.add_argument("--test", required=True, help="test interactions (reported)")
    p.add_argument("--seed", type=int, default=42, help=f"0 … {MAX_SEED} (default 42)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="maximum epochs of bpr/lightgcn/gcnmf (default: tuned)",
    )
    p.add_argument("--out", default=None, help="also write the metrics JSON here (atomically)")
    p.add_argument(
        "--timings",
        action="store_true",
        help="add a 'timings' section (fit and evaluation seconds); the JSON then differs "
        "between identical runs",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _run(args: argparse.Namespace, warn) -> tuple[dict, Path | None]:
    """Everything after argument parsing; raises InputError for the user's mistakes."""
    if args.epochs is not None and args.epochs < 1:
        raise InputError("--epochs must be >= 1")
    if not 0 <= args.seed <= MAX_SEED:
        raise InputError(f"--seed must be between 0 and {MAX_SEED}, got {args.seed}")
    if args.epochs is not None and args.model in CLOSED_FORM_MODELS:
        warn(f"warning: --epochs has no effect on --model {args.model} (no training loop)")
    out = _prepare_out(args.out) if args.out else None
    data = load_split_files(args.train, args.valid, args.test, warn=warn)
    n_users, n_items = data["n_users"], data["n_items"]
    _check_memory(args.model, n_users, n_items)
    if args.model == "gf-cf":
        _check_gfcf(n_users, n_items)
    start = time.perf_counter()
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
    fitted = time.perf_counter()
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
        "test": test_eval(model),
        "valid": valid_eval(model),
    }
    if history is not None:
        result["best_epoch"] = history["best_epoch"]
        result["stopped_epoch"] = history["stopped_epoch"]
    if args.timings:
        result["timings"] = {
            "fit_seconds": round(fitted - start, 3),
            "evaluate_seconds": round(time.perf_counter() - fitted, 3),
        }
    return result, out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gnnrec_utils.evaluate``; returns the exit code."""
    args = _parser().parse_args(None if argv is None else list(argv))

    def warn(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        result, out = _run(args, warn)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if out is not None:
        try:
            _write_atomic(out, text + "\n")
        except OSError as error:
            print(
                f"error: could not write {args.out!r} ({error.strerror or error}); the metrics "
                "above were not saved and any previous file is unchanged",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raise SystemExit(main())
