"""Execute the course notebooks with papermill, independent ones side by side (`make run`).

    python tools/run_notebooks.py [--quick] [--only 01 02] [--output-dir outputs] [--jobs N]
                                  [-p NAME VALUE ...] [--kernel gnnrec]

Executed notebooks go to <output-dir>/executed/, each notebook's headline results to
<output-dir>/results/<notebook>.json and the combined file to <output-dir>/results.json. The
terminal shows one line per notebook (name, time, where the output went) as it finishes, and
the failures; everything else — the kernel's stderr (TensorFlow's C++ start-up lines, Jupyter's
warnings), papermill's log and the cells' own output — goes to <output-dir>/logs/<notebook>.log.

Scheduling (``--jobs N``, default ``min(2, CPU count)``). Each notebook runs in a child process
of its own (this script with the hidden ``--child`` flag: the log redirection moves fd 2 of the
whole process, and papermill is not meant to run two notebooks in one process). Which notebook
waits for which is ``AFTER`` in ``tools/_notebooks.py``, its one home (every notebook waits for
01; 06 waits for 03, whose models it loads). A notebook starts as soon as the notebooks it
waits for have finished and one of the N slots is free; among those ready, the one with the
longest chain of work ahead of it starts first (its typical time plus that of the notebooks
waiting for it, ``TYPICAL_SECONDS`` in ``tools/_notebooks.py``: 03 before 04 before 05 ...),
then course order. A prerequisite outside ``--only`` is not waited for.
``--jobs 1`` runs them one after another, in course order. With TensorFlow held to one thread
per notebook (gnnrec.env) each notebook uses about one core, so two run in the time of one.

After the first failure no new notebook starts; the running ones finish; exit code 1; the
notebooks that wait for the failed one are reported as skipped. SIGTERM or Ctrl-C is passed on
to the running children, which stop as described below; the runner waits for them and exits
with 143 (SIGTERM) or 130 (Ctrl-C).

Which files in results/ belong to a notebook: those whose top-level name starts with its number
(``03_mf_recommendation.json``, ``03_split/…``, ``06_results.csv``), whatever else runs at the
same time. A file written during a run whose name starts with no notebook number of the run is
left in place and named in a warning in that notebook's log.

Nothing half-done survives a run (issue 16, item 4). Before a notebook runs, its previous
executed copy, its ``<notebook>.json`` and every other file its previous run wrote into the
results folder (listed in ``results/.written-by.json``, updated under a file lock because
children run at once) are removed; a run that fails or is stopped (Ctrl-C, SIGTERM) removes the
files of its own it wrote there. The executed copy of a failed or stopped run is kept for
reading but marked: papermill's error cell on failure, on Ctrl-C/SIGTERM a note at the top and
``metadata.gnnrec_run.status = "interrupted"``; a copy left by SIGKILL still carries
papermill's per-cell "running"/"pending" states. :func:`run_status` reads all three
(``tools/build_report.py`` badges such a page). ``results.json`` is rewritten at the end of
every run, failed or not, from the notebooks whose results are present, so it never carries a
failed one.

Tests replace papermill in the children by naming a module with its ``execute_notebook`` and
``PapermillExecutionError`` in the environment variable ``GNNREC_RUNNER_PAPERMILL``
(tests/unit/fake_papermill.py: no kernel, no papermill import, a child in a fraction of a second).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _notebooks import NOTEBOOK_DIR as NOTEBOOKS  # tools/ is on sys.path: this runs as a script
from _notebooks import ROOT, chain_seconds, course_notebooks, prefix, prerequisites

#: results/<WRITTEN_BY>: {notebook stem: [files (relative to results/) its last run wrote]}
WRITTEN_BY = ".written-by.json"
#: results/<WRITTEN_BY_LOCK>: flock()ed around every read-modify-write of WRITTEN_BY.
WRITTEN_BY_LOCK = ".written-by.lock"
#: Notebook metadata key the runner sets on a copy whose run was stopped.
RUN_KEY = "gnnrec_run"
FINISHED, ERROR, UNFINISHED = "finished", "error", "unfinished"
#: A child's last stdout line: this marker, then {"status": …, "message": …} as JSON.
RESULT_MARK = "gnnrec-run-result: "
#: Environment variable naming a module that stands in for papermill (tests only).
PAPERMILL_ENV = "GNNREC_RUNNER_PAPERMILL"
#: Exit codes of a run stopped by a signal (128 + the signal's number, as shells report it).
STOP_CODES = {"SIGTERM": 143, "Ctrl-C": 130}
_NUMBERED = re.compile(r"\d\d_")


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


def combine_results(results_dir: Path, out_file: Path, stems=None) -> dict:
    """Merge every ``<notebook>.json`` in ``results_dir`` into one file keyed by notebook.

    ``stems``: the notebooks whose records count (default: any ``NN_*.json``); other files a
    notebook writes next to its record, such as 06's ``06_results.json``, are not records.
    """
    files = sorted(results_dir.glob("[0-9][0-9]_*.json"))  # one per notebook, not results.json
    if stems is not None:
        files = [p for p in files if p.stem in stems]
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
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


@contextlib.contextmanager
def written_by_table(results_dir: Path):
    """Yield ``results/.written-by.json`` as a dict and write it back, holding a file lock.

    Children running at once each update their own entry; the lock (``fcntl.flock`` on
    ``.written-by.lock``) makes read, change and write one step, so no entry is lost. Nothing
    is written back when the body raises.
    """
    with open(results_dir / WRITTEN_BY_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            table = _read_written_by(results_dir)
            yield table
            _write_written_by(results_dir, table)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _snapshot(folder: Path) -> dict[Path, tuple[int, int, int]]:
    """(mtime_ns, size, inode) of every file under ``folder``, bookkeeping files excluded."""
    out = {}
    for path in folder.rglob("*"):
        if not path.name.startswith(WRITTEN_BY.split(".json")[0]) and path.is_file():
            st = path.stat()
            out[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return out


def _written_since(folder: Path, before: dict[Path, tuple[int, int, int]]) -> list[Path]:
    """Files under ``folder`` that are new or changed since the snapshot ``before``."""
    return sorted(p for p, sig in _snapshot(folder).items() if before.get(p) != sig)


def owner(path: Path, results_dir: Path) -> str | None:
    """The notebook number owning ``path`` in ``results_dir``: the first two digits of its
    top-level name when that reads ``NN_…`` (``03_split/train.tsv`` -> ``"03"``), else None."""
    top = Path(path).relative_to(results_dir).parts[0]
    return top[:2] if _NUMBERED.match(top) else None


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


def _parameter_path(path: Path, notebook_dir: Path) -> str:
    """``path`` as the notebook should see it: relative to its folder when both are in the repo.

    The injected-parameters cell then reads ``OUTPUT_DIR = "../outputs/results"``, not the
    machine's absolute path (the notebook's working directory is its own folder).
    """
    path, notebook_dir = path.resolve(), notebook_dir.resolve()
    if path.is_relative_to(ROOT) and notebook_dir.is_relative_to(ROOT):
        return os.path.relpath(path, notebook_dir)
    return str(path)


def _papermill():
    """papermill, or the module named in PAPERMILL_ENV that stands in for it (tests)."""
    return importlib.import_module(os.environ.get(PAPERMILL_ENV) or "papermill")


def run_one(
    nb: Path,
    target: Path,
    results_dir: Path,
    log_path: Path,
    params: dict,
    kernel: str,
    cwd: Path,
    numbers: tuple[str, ...] = (),
) -> tuple[str, str]:
    """Execute ``nb`` into ``target``; return (status, message) with stale outputs cleared.

    ``status`` is ``finished``, ``error`` (a cell failed; the message names it), ``failed`` (the
    run could not start: kernel missing, bad parameters…). A Ctrl-C/SIGTERM marks the copy,
    removes the notebook's own files the run wrote and re-raises. ``numbers``: the notebook
    numbers of the whole run; a file written meanwhile that belongs to none of them is named
    in a warning at the end of the log.
    """
    pm = _papermill()
    number = prefix(nb)
    with written_by_table(results_dir) as written_by:
        stale = [target, results_dir / f"{nb.stem}.json"]
        stale += [results_dir / rel for rel in written_by.pop(nb.stem, [])]
        _remove(stale, results_dir)
    before = _snapshot(results_dir)

    def own_written() -> list[Path]:
        written = _written_since(results_dir, before)
        strays = [p for p in written if owner(p, results_dir) not in {number, *numbers}]
        with open(log_path, "a") as log:
            for path in strays:
                print(
                    f"run_notebooks WARNING: {_shown(path)} was written while {nb.stem} ran, "
                    "but its name starts with no notebook number of this run, so no notebook "
                    "owns it: left in place (name it NN_… after the notebook that writes it)",
                    file=log,
                )
        return [p for p in written if owner(p, results_dir) == number]

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
        _remove(own_written(), results_dir)
        raise
    except Exception as err:  # kernel missing, bad parameters, …
        status, message = "failed", f"{type(err).__name__}: {err}"
    written = own_written()
    if status == FINISHED:
        with written_by_table(results_dir) as written_by:
            written_by[nb.stem] = [p.relative_to(results_dir).as_posix() for p in written]
    else:
        _remove(written, results_dir)
    return status, message


# --- the child: one notebook ---------------------------------------------------------------


def _stop_once(signum, frame):
    """A child's SIGTERM/SIGINT handler: stop the run; later signals cannot cut the clean-up."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if signum == signal.SIGTERM:
        raise RunInterrupted("SIGTERM")
    raise KeyboardInterrupt


def _child(spec: dict) -> int:
    """Run one notebook as :func:`run_one` does, print the outcome as the RESULT_MARK line.

    ``spec``: the notebook, its target, the folders, parameters, kernel, ``numbers`` of the
    run and ``inplace`` (replace the notebook by its cleaned executed copy when it finished).
    """
    signal.signal(signal.SIGTERM, _stop_once)
    signal.signal(signal.SIGINT, _stop_once)
    nb, target = Path(spec["notebook"]), Path(spec["target"])
    try:
        status, message = run_one(
            nb,
            target,
            Path(spec["results_dir"]),
            Path(spec["log"]),
            spec["params"],
            spec["kernel"],
            Path(spec["cwd"]),
            tuple(spec["numbers"]),
        )
    except KeyboardInterrupt as err:
        status, message = "stopped", "SIGTERM" if isinstance(err, RunInterrupted) else "Ctrl-C"
    if status == FINISHED and spec["inplace"]:
        import clean_notebook

        nb.write_text(target.read_text())
        report = io.StringIO()
        with contextlib.redirect_stdout(report):
            if clean_notebook.main([str(nb)]) != 0:
                status, message = "not clean", report.getvalue()
    print(RESULT_MARK + json.dumps({"status": status, "message": message}), flush=True)
    return 0


# --- the parent: scheduling --------------------------------------------------------------


@dataclass
class _Job:
    """A notebook running in a child process."""

    nb: Path
    proc: subprocess.Popen
    out: io.BufferedRandom
    err: io.BufferedRandom
    start: float = field(default_factory=time.perf_counter)

    def outcome(self) -> tuple[str, str]:
        """(status, message) the child reported, or ``failed`` naming how the child died."""
        self.out.seek(0)
        self.err.seek(0)
        out = self.out.read().decode(errors="replace")
        err = self.err.read().decode(errors="replace")
        self.out.close()
        self.err.close()
        for line in reversed(out.splitlines()):
            if line.startswith(RESULT_MARK):
                result = json.loads(line[len(RESULT_MARK) :])
                return result["status"], result["message"]
        tail = "\n".join(err.strip().splitlines()[-5:])
        return "failed", f"the child process exited with code {self.proc.returncode}: {tail}"


def _start(nb: Path, spec: dict) -> _Job:
    """Start the child that runs ``nb`` in a process group of its own.

    Its own group: a Ctrl-C at the terminal reaches only this parent, which passes on exactly
    one signal (a second one could cut a child's clean-up short).
    """
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    spec = {**spec, "notebook": str(nb)}
    spec["target"] = str(Path(spec.pop("executed_dir")) / nb.name)
    spec["log"] = str(Path(spec.pop("logs_dir")) / f"{nb.stem}.log")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        process_group=0,
    )
    return _Job(nb, proc, out, err)


def _waiting_on(nb: Path, waits: dict[Path, list[Path]], lost: set[Path]) -> Path | None:
    """The notebook in ``lost`` (failed, stopped, skipped) that ``nb`` waits for, if any."""
    for dep in waits[nb]:
        if dep in lost:
            return dep
        if (behind := _waiting_on(dep, waits, lost)) is not None:
            return behind
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(json.loads(argv[1]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run with QUICK=True")
    parser.add_argument("--only", nargs="*", help="notebook prefixes to run, e.g. 01 03")
    parser.add_argument("--output-dir", default=str(ROOT / "outputs"))
    parser.add_argument("--kernel", default="gnnrec")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="notebooks run at once (default: 2, or 1 on one core; 1: one after another)",
    )
    parser.add_argument("--notebook-dir", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--inplace",
        action="store_true",
        help="maintainers: execute each notebook with its own defaults (no injected "
        "parameters) and, when it finishes, clean it and replace notebooks/<notebook>.ipynb",
    )
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")

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
    jobs = min(args.jobs, len(notebooks))
    at_once = f", {jobs} at a time" if jobs > 1 else ""
    print(
        f"Running {len(notebooks)} notebook(s), {mode} parameters{at_once}; "
        f"logs in {_shown(logs_dir)}/"
    )
    spec = {
        "executed_dir": str(executed_dir),
        "logs_dir": str(logs_dir),
        "results_dir": str(results_dir),
        "params": params,
        "kernel": args.kernel,
        "cwd": str(args.notebook_dir.resolve()),
        "numbers": sorted({prefix(nb) for nb in notebooks}),
        "inplace": args.inplace,
    }
    waits = prerequisites(notebooks)
    chain = chain_seconds(waits)
    width = max(len(nb.stem) for nb in notebooks)
    pending, running, done, lost = list(notebooks), [], set(), set()
    code, stopping = 0, None  # stopping: "SIGTERM"/"Ctrl-C" once a stop was asked for

    def stop(reason: str) -> None:
        """Pass the stop on to every running child (once) and start nothing new."""
        nonlocal code, stopping
        if stopping is None:
            stopping, code = reason, STOP_CODES[reason]
            sig = signal.SIGTERM if reason == "SIGTERM" else signal.SIGINT
            for job in running:
                with contextlib.suppress(ProcessLookupError):
                    job.proc.send_signal(sig)

    def report(job: _Job) -> None:
        """Print the line of a finished child; note failures, stops and not-clean copies."""
        nonlocal code
        status, message = job.outcome()
        seconds = time.perf_counter() - job.start
        nb = job.nb
        target = executed_dir / nb.name
        log_path = logs_dir / f"{nb.stem}.log"
        if jobs > 1:
            print(f"  {nb.stem:<{width}}  ", end="")
        if status == "stopped":
            lost.add(nb)
            print(f"stopped by {message}")
            print(
                f"STOPPED: {nb.name} did not finish; its results were removed and "
                f"{_shown(target)} is marked unfinished (log: {_shown(log_path)})",
                file=sys.stderr,
            )
            stop(message)
        elif status == "not clean":
            lost.add(nb)
            print("not clean")
            print(message, end="", file=sys.stderr)
            code = code or 1
        elif status != FINISHED:
            lost.add(nb)
            print(f"FAILED after {seconds:.0f} s")
            print(f"FAILED: {nb.name}, {message}", file=sys.stderr)
            if "No such kernel" in message:
                print("Register the course kernel with `make setup`.", file=sys.stderr)
            if target.exists():
                print(f"  partly executed copy: {_shown(target)}", file=sys.stderr)
            print(f"  full log: {_shown(log_path)}", file=sys.stderr)
            code = code or 1
        else:
            done.add(nb)
            if args.inplace:
                where = _shown(nb)
            else:
                where = _shown(target)
                result = results_dir / f"{nb.stem}.json"
                if result.exists():
                    where += f", {_shown(result)}"
            print(f"ok {seconds:7.1f} s  -> {where}")
        sys.stdout.flush()

    asked: list[str] = []  # the signal handlers only note the request; the loop acts on it

    def on_signal(signum, frame):
        asked.append("SIGTERM" if signum == signal.SIGTERM else "Ctrl-C")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while pending or running:
            if asked:
                stop(asked[0])
            if code == 0 and stopping is None:
                ready = [nb for nb in pending if all(dep in done for dep in waits[nb])]
                if jobs > 1:  # the longest chain of work ahead first, then course order
                    ready.sort(key=lambda nb: (-chain[nb], notebooks.index(nb)))
                for nb in ready[: jobs - len(running)]:
                    pending.remove(nb)
                    if jobs == 1:
                        print(f"  {nb.stem:<{width}}  ", end="", flush=True)
                    running.append(_start(nb, spec))
            if not running:
                break
            while not (ended := [job for job in running if job.proc.poll() is not None]):
                if asked:
                    stop(asked[0])
                time.sleep(0.05)
            for job in ended:
                running.remove(job)
                report(job)
        for nb in pending:
            if (behind := _waiting_on(nb, waits, lost)) is not None:
                lost.add(nb)
                print(
                    f"  {nb.stem:<{width}}  skipped: waits for {behind.stem}, which did not finish"
                )
    finally:
        for job in running:  # only after an error in the runner itself: no orphans left
            with contextlib.suppress(ProcessLookupError):
                job.proc.send_signal(signal.SIGTERM)
            job.proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not args.inplace:
            every = {nb.stem for nb in course_notebooks(args.notebook_dir)}
            combine_results(results_dir, out_dir / "results.json", stems=every)

    if code == 0:
        if args.inplace:
            print("Notebooks executed in place and cleaned; review `git diff notebooks/`.")
        else:
            print(f"All notebooks ran. Combined results: {_shown(out_dir / 'results.json')}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
