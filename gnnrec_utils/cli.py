r"""The command line ``gnnrec-evaluate``: interaction files in, full-ranking metrics out.

This module is only the command line — argument parsing, calls into the library, exit codes.
No module of the package imports it (a test checks); the pieces it calls are
:func:`gnnrec_utils.interaction_files.load_split_files` (reading and checking the files),
:func:`gnnrec_utils.recipes.train_model` (the models and their tuned settings) and
:class:`gnnrec_utils.metrics.RankingEvaluator` (the full-ranking protocol and its formulas).

::

    gnnrec-evaluate --model {pop,item-knn,ease,gf-cf,bpr,lightgcn,gcnmf} \
        --train TRAIN --valid VALID --test TEST [--seed N] [--epochs N] [--out metrics.json]
        [--timings] [--quiet] [--no-store]

(or ``python -m gnnrec_utils.cli …``). Reads the three interaction files, treats every row as
an implicit positive, fits the model and prints the test (and validation) metrics as JSON,
also written to ``--out``. Models: ``pop`` (popularity), ``ease`` (EASE) and ``gf-cf`` (the
GF-CF graph filter) are fitted in closed form (:mod:`gnnrec_utils.closed_form`; ``--epochs``
does not apply); ``bpr``, ``lightgcn`` and ``gcnmf`` are trained with BPR and early stopping on
the validation file. Hyperparameters are :data:`gnnrec_utils.recipes.MODEL_DEFAULTS`.

**Train once.** A trained model (``bpr``, ``lightgcn``, ``gcnmf``) is saved to the model store
(:mod:`gnnrec_utils.store`; ``outputs/models``, or ``GNNREC_MODEL_STORE``) under the files'
content hash, the settings and the seed; the next run with the same files, model, ``--epochs``
and ``--seed`` loads it (one line on stderr says "trained" or "loaded"; the JSON is the same
either way). ``--no-store`` trains and saves nothing.

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

Besides the file rules of :mod:`gnnrec_utils.interaction_files` (exit 2 for each), a model
whose dense matrices cannot fit in the available memory (``ease``/``gf-cf``: a few
items × items matrices; ``bpr``/``lightgcn``/``gcnmf``: the users × items score matrix the
training loop evaluates) is refused before training, with the sizes.

Robustness probes and the tests that cover them: ``docs/robustness.md``.

Taught in ``notebooks/03_mf_recommendation.ipynb``.
"""

from __future__ import annotations

import gnnrec_utils  # noqa: F401  (selects tf-keras before TensorFlow loads)
from gnnrec_utils.interaction_files import InputError, load_split_files
from gnnrec_utils.metrics import RankingEvaluator
from gnnrec_utils.recipes import (
    CLI_MODELS,
    CLOSED_FORM_MODELS,
    MODEL_DEFAULTS,
    TRAINED_MODELS,
    train_model,
)
from gnnrec_utils.seeding import seed_everything
from gnnrec_utils.store import default_store

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


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
        prog="gnnrec-evaluate",
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
    p.add_argument("--model", required=True, choices=list(CLI_MODELS))
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
    p.add_argument(
        "--no-store",
        action="store_true",
        help="train even if the model store (outputs/models; GNNREC_MODEL_STORE) holds this "
        "model for these files, settings and seed, and do not save it",
    )
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
    # the application seeds the global generators (GCN+MF's dropout draws from them)
    seed_everything(args.seed, tensorflow=args.model in TRAINED_MODELS)
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
        store=None if args.no_store else default_store(),
        say=warn,  # "trained …" or "loaded from the store …", on stderr
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
    """Entry point of ``gnnrec-evaluate`` (``python -m gnnrec_utils.cli``); the exit code."""
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
