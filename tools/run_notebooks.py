"""Execute the course notebooks in order with papermill (what `make run` and `make quick` do).

    python tools/run_notebooks.py [--quick] [--only 01 02] [--output-dir outputs]
                                  [-p NAME VALUE ...] [--kernel gnnrec]

Executed notebooks go to <output-dir>/executed/, each notebook's headline results to
<output-dir>/results/<notebook>.json and the combined file to <output-dir>/results.json.
Stops at the first failing notebook with exit code 1, naming the notebook and the cell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def course_notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in order, optionally filtered by prefix."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) for o in only)]
    return found


def _parse_value(text: str):
    """Interpret a -p value as a Python literal when it is one (True, 3, 0.1), else a string."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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


def combine_results(results_dir: Path, out_file: Path) -> dict:
    """Merge every ``<notebook>.json`` in ``results_dir`` into one file keyed by notebook."""
    files = sorted(results_dir.glob("[0-9][0-9]_*.json"))  # one per notebook, not results.json
    combined = {p.stem: json.loads(p.read_text()) for p in files}
    out_file.write_text(json.dumps(combined, indent=2, sort_keys=True) + "\n")
    return combined


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
        "parameters) back into notebooks/ and clean it, ready to commit",
    )
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The kernel inherits this: training loops print one finished line, not a widget whose
    # saved form is a bar frozen at "0%|" (gnnrec_utils/_progress.py).
    os.environ.setdefault("GNNREC_PROGRESS", "summary")
    import papermill as pm

    out_dir = Path(args.output_dir).resolve()
    executed_dir = out_dir / "executed"
    results_dir = out_dir / "results"
    executed_dir.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)

    notebooks = course_notebooks(args.only, args.notebook_dir)
    if not notebooks:
        print(f"no notebooks matched {args.only!r} in {args.notebook_dir}", file=sys.stderr)
        return 2
    params = {name: _parse_value(value) for name, value in args.p}
    if args.inplace:
        if params or args.quick:
            print("--inplace runs the committed defaults: no -p/--quick", file=sys.stderr)
            return 2
    else:
        params["OUTPUT_DIR"] = str(results_dir)
        if args.quick:
            params["QUICK"] = True

    mode = "QUICK" if args.quick else "full"
    print(f"Running {len(notebooks)} notebook(s), {mode} parameters, kernel '{args.kernel}'")
    timings = {}
    for nb in notebooks:
        target = nb if args.inplace else executed_dir / nb.name
        start = time.perf_counter()
        shown = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb
        print(f"\n=== {shown}", flush=True)
        try:
            pm.execute_notebook(
                str(nb),
                str(target),
                parameters=params,
                kernel_name=args.kernel,
                cwd=str(args.notebook_dir),
                progress_bar=sys.stderr.isatty(),
            )
        except pm.PapermillExecutionError as err:
            where = _failed_cell(target) if target.exists() else f"cell {err.cell_index}"
            print(
                f"\nFAILED: {shown}, {where}\nThe partly executed notebook is {target}",
                file=sys.stderr,
            )
            return 1
        except Exception as err:  # kernel missing, bad parameters, …
            print(f"\nFAILED: {shown}: {type(err).__name__}: {err}", file=sys.stderr)
            if "No such kernel" in str(err):
                print("Register the course kernel with `make setup`.", file=sys.stderr)
            return 1
        timings[nb.stem] = time.perf_counter() - start
        if args.inplace:
            import clean_notebook

            if clean_notebook.main([str(target)]) != 0:
                return 1
        print(f"    done in {timings[nb.stem]:.1f} s -> {target}")

    if args.inplace:
        print("\nNotebooks executed in place and cleaned; review `git diff notebooks/`.")
        return 0
    combined_path = out_dir / "results.json"
    combine_results(results_dir, combined_path)
    print("\nAll notebooks ran.")
    for name, seconds in timings.items():
        print(f"  {name:<28} {seconds:7.1f} s")
    print(f"Executed notebooks: {executed_dir}")
    print(f"Results file:       {combined_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
