"""Execute the course notebooks in order with papermill (what `make run` and `make quick` do).

    python tools/run_notebooks.py [--quick] [--only 01 02] [--output-dir outputs]
                                  [-p NAME VALUE ...] [--kernel gnnrec]

Executed notebooks go to <output-dir>/executed/, each notebook's headline results to
<output-dir>/results/<notebook>.json and the combined file to <output-dir>/results.json. The
terminal shows one line per notebook (name, time, where the output went) and the failures;
everything else — the kernel's stderr (TensorFlow's C++ start-up lines, Jupyter's warnings),
papermill's log and the cells' own output — goes to <output-dir>/logs/<notebook>.log.
Stops at the first failing notebook with exit code 1, naming the notebook and the cell.

Nothing half-done survives a run (issue 16, item 4). Before a notebook runs, its previous
executed copy, its ``<notebook>.json`` and every other file its previous run wrote into the
results folder (listed in ``results/.written-by.json``) are removed; a run that fails or is
stopped (Ctrl-C, SIGTERM) removes what it wrote there. The executed copy of a failed or stopped
run is kept for reading but marked: papermill's error cell on failure, on Ctrl-C/SIGTERM a note
at the top and ``metadata.gnnrec_run.status = "interrupted"``; a copy left by SIGKILL still
carries papermill's per-cell "running"/"pending" states. :func:`run_status` reads all three
(``tools/build_report.py`` badges such a page). ``results.json`` is rewritten after every run,
failed or not, from the notebooks whose results are present, so it never carries a failed one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from _notebooks import NOTEBOOK_DIR as NOTEBOOKS  # tools/ is on sys.path: this runs as a script
from _notebooks import ROOT, course_notebooks

#: results/<WRITTEN_BY>: {notebook stem: [files (relative to results/) its last run wrote]}
WRITTEN_BY = ".written-by.json"
#: Notebook metadata key the runner sets on a copy whose run was stopped.
RUN_KEY = "gnnrec_run"
FINISHED, ERROR, UNFINISHED = "finished", "error", "unfinished"


class RunInterrupted(KeyboardInterrupt):
    """SIGTERM (or Ctrl-C) arrived while a notebook was running."""


def _parse_value(text: str):
    """Interpret a -p value as a Python literal when it is one (True, 3, 0.1), else a string."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (no machine paths on screen)."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _failed_cell(nb_path: Path) -> str:
    """Describe the first cell with an error output in an executed notebook."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = (cell.source.strip().splitlines() or [""])[0][:80]
                return (
                    f"the cell [{cell.get('execution_count')}] starting {first!r} "
                    f"(cell {index} of the executed copy): {out.get('ename')}: {out.get('evalue')}"
                )
    return "cell unknown"


def run_status(nb: dict) -> str:
    """``"finished"``, ``"error"`` or ``"unfinished"`` for an executed notebook (a dict/node).

    - unfinished: the runner marked it interrupted (Ctrl-C/SIGTERM), or papermill's metadata
      shows a run without an end time or a cell that is not "completed" (a SIGKILLed run);
    - error: a cell holds an error output, or papermill flagged an exception;
    - finished: otherwise (also a cleaned, committed notebook, which has no papermill metadata).
    """
    meta = nb.get("metadata", {})
    cells = nb.get("cells", [])
    if meta.get(RUN_KEY, {}).get("status", FINISHED) != FINISHED:
        return UNFINISHED  # papermill records a SIGTERM as a KeyboardInterrupt error output
    if any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", [])):
        return ERROR
    if meta.get("papermill", {}).get("exception"):
        return ERROR
    if "papermill" in meta:
        if not meta["papermill"].get("end_time"):
            return UNFINISHED
        states = {c.get("metadata", {}).get("papermill", {}).get("status") for c in cells}
        if states - {"completed", None}:
            return UNFINISHED
    return FINISHED


def mark_interrupted(path: Path, reason: str) -> None:
    """Flag the executed copy at ``path`` as stopped: metadata and a note above its first cell."""
    import nbformat

    if not path.exists():
        return
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # half-written JSON: nothing that could look finished is left
        path.unlink()
        return
    nb.metadata[RUN_KEY] = {"status": "interrupted", "reason": reason}
    note = nbformat.v4.new_markdown_cell(
        f"**This run did not finish ({reason}).** The outputs below stop where it was "
        "interrupted; re-run the notebook for complete results."
    )
    note.metadata["tags"] = ["gnnrec-run-status"]
    nb.cells.insert(0, note)
    nbformat.write(nb, path)


def combine_results(results_dir: Path, out_file: Path) -> dict:
    """Merge every ``<notebook>.json`` in ``results_dir`` into one file keyed by notebook."""
    files = sorted(results_dir.glob("[0-9][0-9]_*.json"))  # one per notebook, not results.json
    combined = {p.stem: json.loads(p.read_text()) for p in files}
    tmp = out_file.with_name(out_file.name + ".tmp")
    tmp.write_text(json.dumps(combined, indent=2, sort_keys=True) + "\n")
    tmp.replace(out_file)
    return combined


def _read_written_by(results_dir: Path) -> dict[str, list[str]]:
    path = results_dir / WRITTEN_BY
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_written_by(results_dir: Path, table: dict[str, list[str]]) -> None:
    path = results_dir / WRITTEN_BY
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _snapshot(folder: Path) -> dict[Path, tuple[int, int, int]]:
    """(mtime_ns, size, inode) of every file under ``folder``, bookkeeping files excluded."""
    skip = {WRITTEN_BY, "results.json"}
    out = {}
    for path in folder.rglob("*"):
        if path.name not in skip and path.is_file():
            st = path.stat()
            out[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return out


def _written_since(folder: Path, before: dict[Path, tuple[int, int, int]]) -> list[Path]:
    """Files under ``folder`` that are new or changed since the snapshot ``before``."""
    return sorted(p for p, sig in _snapshot(folder).items() if before.get(p) != sig)


def _remove(paths, results_dir: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            path.unlink()
        # drop folders the run created and left empty (e.g. 03_split/)
        parent = path.parent
        while parent != results_dir and parent.is_relative_to(results_dir):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


@contextlib.contextmanager
def _logged_to(log_path: Path):
    """Send fd 2 (the kernel inherits it) and papermill's/nbclient's logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        loggers = [logging.getLogger(n) for n in ("papermill", "nbclient", "traitlets")]
        saved_levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            lg.setLevel(logging.INFO)
        sys.stderr.flush()
        saved_fd = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            for lg, level in zip(loggers, saved_levels, strict=True):
                lg.removeHandler(handler)
                lg.setLevel(level)


def _on_sigterm(signum, frame):
    raise RunInterrupted("SIGTERM")


def _parameter_path(path: Path, notebook_dir: Path) -> str:
    """``path`` as the notebook should see it: relative to its folder when both are in the repo.

    The injected-parameters cell then reads ``OUTPUT_DIR = "../outputs/results"``, not the
    machine's absolute path (the notebook's working directory is its own folder).
    """
    path, notebook_dir = path.resolve(), notebook_dir.resolve()
    if path.is_relative_to(ROOT) and notebook_dir.is_relative_to(ROOT):
        return os.path.relpath(path, notebook_dir)
    return str(path)


def run_one(
    nb: Path, target: Path, results_dir: Path, log_path: Path, params: dict, kernel: str, cwd: Path
) -> tuple[str, str]:
    """Execute ``nb`` into ``target``; return (status, message) with stale outputs cleared.

    ``status`` is ``finished``, ``error`` (a cell failed; the message names it), ``failed`` (the
    run could not start: kernel missing, bad parameters…). A Ctrl-C/SIGTERM marks the copy,
    removes what the run wrote and re-raises.
    """
    import papermill as pm

    written_by = _read_written_by(results_dir)
    stale = [target, results_dir / f"{nb.stem}.json"]
    stale += [results_dir / rel for rel in written_by.pop(nb.stem, [])]
    _remove(stale, results_dir)
    _write_written_by(results_dir, written_by)
    before = _snapshot(results_dir)
    status, message = "error", ""
    try:
        with _logged_to(log_path):
            pm.execute_notebook(
                str(nb),
                str(target),
                parameters=params,
                kernel_name=kernel,
                cwd=str(cwd),
                progress_bar=False,
                log_output=True,
            )
        status = FINISHED
    except pm.PapermillExecutionError as err:
        message = _failed_cell(target) if target.exists() else f"cell {err.cell_index}"
    except KeyboardInterrupt as err:
        reason = "stopped by SIGTERM" if isinstance(err, RunInterrupted) else "stopped by Ctrl-C"
        mark_interrupted(target, reason)
        _remove(_written_since(results_dir, before), results_dir)
        raise
    except Exception as err:  # kernel missing, bad parameters, …
        status, message = "failed", f"{type(err).__name__}: {err}"
    written = _written_since(results_dir, before)
    if status == FINISHED:
        written_by = _read_written_by(results_dir)
        written_by[nb.stem] = [p.relative_to(results_dir).as_posix() for p in written]
        _write_written_by(results_dir, written_by)
    else:
        _remove(written, results_dir)
    return status, message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run with QUICK=True")
    parser.add_argument("--only", nargs="*", help="notebook prefixes to run, e.g. 01 03")
    parser.add_argument("--output-dir", default=str(ROOT / "outputs"))
    parser.add_argument("--kernel", default="gnnrec")
    parser.add_argument("--notebook-dir", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--inplace",
        action="store_true",
        help="maintainers: execute each notebook with its own defaults (no injected "
        "parameters) and, when it finishes, clean it and replace notebooks/<notebook>.ipynb",
    )
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The kernel inherits this: training loops print one finished line, not a widget whose
    # saved form is a bar frozen at "0%|" (gnnrec_utils/_progress.py).
    os.environ.setdefault("GNNREC_PROGRESS", "summary")

    out_dir = Path(args.output_dir).resolve()
    executed_dir = out_dir / "executed"
    results_dir = out_dir / "results"
    logs_dir = out_dir / "logs"
    for folder in (executed_dir, results_dir, logs_dir):
        folder.mkdir(parents=True, exist_ok=True)

    notebooks = course_notebooks(args.notebook_dir, only=args.only)
    if not notebooks:
        print(f"no notebooks matched {args.only!r} in {args.notebook_dir}", file=sys.stderr)
        return 2
    params = {name: _parse_value(value) for name, value in args.p}
    if args.inplace:
        if params or args.quick:
            print("--inplace runs the committed defaults: no -p/--quick", file=sys.stderr)
            return 2
    else:
        params["OUTPUT_DIR"] = _parameter_path(results_dir, args.notebook_dir)
        if args.quick:
            params["QUICK"] = True

    mode = "QUICK" if args.quick else "full"
    print(f"Running {len(notebooks)} notebook(s), {mode} parameters; logs in {_shown(logs_dir)}/")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    width = max(len(nb.stem) for nb in notebooks)
    code = 0
    try:
        for nb in notebooks:
            target = executed_dir / nb.name
            log_path = logs_dir / f"{nb.stem}.log"
            print(f"  {nb.stem:<{width}}  ", end="", flush=True)
            start = time.perf_counter()
            try:
                status, message = run_one(
                    nb, target, results_dir, log_path, params, args.kernel, args.notebook_dir
                )
            except KeyboardInterrupt as err:
                reason = "SIGTERM" if isinstance(err, RunInterrupted) else "Ctrl-C"
                print(f"stopped by {reason}")
                print(
                    f"STOPPED: {nb.name} did not finish; its results were removed and "
                    f"{_shown(target)} is marked unfinished (log: {_shown(log_path)})",
                    file=sys.stderr,
                )
                code = 143 if reason == "SIGTERM" else 130
                break
            seconds = time.perf_counter() - start
            if status != FINISHED:
                print(f"FAILED after {seconds:.0f} s")
                print(f"FAILED: {nb.name}, {message}", file=sys.stderr)
                if "No such kernel" in message:
                    print("Register the course kernel with `make setup`.", file=sys.stderr)
                if target.exists():
                    print(f"  partly executed copy: {_shown(target)}", file=sys.stderr)
                print(f"  full log: {_shown(log_path)}", file=sys.stderr)
                code = 1
                break
            if args.inplace:
                import clean_notebook

                nb.write_text(target.read_text())
                report = io.StringIO()
                with contextlib.redirect_stdout(report):
                    cleaned = clean_notebook.main([str(nb)]) == 0
                if not cleaned:
                    print("not clean")
                    print(report.getvalue(), end="", file=sys.stderr)
                    code = 1
                    break
                where = _shown(nb)
            else:
                where = _shown(target)
                result = results_dir / f"{nb.stem}.json"
                if result.exists():
                    where += f", {_shown(result)}"
            print(f"ok {seconds:7.1f} s  -> {where}")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if not args.inplace:
            combine_results(results_dir, out_dir / "results.json")

    if code == 0:
        if args.inplace:
            print("Notebooks executed in place and cleaned; review `git diff notebooks/`.")
        else:
            print(f"All notebooks ran. Combined results: {_shown(out_dir / 'results.json')}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
