"""Normalise executed notebooks before committing them (nbdev-style hygiene).

    python tools/clean_notebook.py notebooks/01_preprocessing.ipynb [...]
    python tools/clean_notebook.py --check notebooks/*.ipynb    # exit 1 if any would change

Keeps outputs; removes papermill/execution metadata and volatile notebook metadata; sets the
kernelspec to the course kernel; renumbers execution counts 1..N in order; fails on error
outputs, TensorFlow log noise, machine paths and unfinished progress bars in outputs (a bar
frozen at "0%|", a text bar stopped short of 100 %, or a tqdm widget, whose saved form is only
the text it showed when created; executed through tools/run_notebooks.py, which sets
GNNREC_PROGRESS=summary, a loop leaves one finished line instead).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

KERNELSPEC = {"name": "gnnrec", "display_name": "gnnrec", "language": "python"}
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:home|root|tmp|Users|work|mnt)/[\w.-]+/")
NOISE = ("absl::InitializeLog", "cudart_stub", "oneDNN custom operations")
#: A tqdm bar frame ("BPR-MF:  40%|████      | 120/300 [...]"): the percentage before "%|".
BAR_FRAME = re.compile(r"(?<![\d.])(\d{1,3})%\|")
#: The repository's hook: a bar frozen at 0 % anywhere in the stored text.
FROZEN_BAR = re.compile(r"(?<!\d)0%\|")
WIDGET = "application/vnd.jupyter.widget-view+json"
CELL_KEYS_DROPPED = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")


def _text_of(output: dict) -> str:
    text = output.get("text", "")
    data = output.get("data", {}).get("text/plain", "")
    join = lambda x: "".join(x) if isinstance(x, list) else str(x)  # noqa: E731
    return join(text) + join(data)


def problems(nb: dict) -> list[str]:
    """What would make a committed notebook unclean even after normalising."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {index}: error output {out.get('ename')}")
            text = _text_of(out)
            match = MACHINE_PATH.search(text)
            if match:
                found.append(f"cell {index}: machine path in output ({match.group(0)}…)")
            if any(n in text for n in NOISE):
                found.append(f"cell {index}: TensorFlow log noise in output")
            found.extend(f"cell {index}: {p}" for p in unfinished_bars(out))
    return found


def unfinished_bars(output: dict) -> list[str]:
    """Progress bars in one output that a reader would see unfinished (see the module doc)."""
    text = _text_of(output)
    if WIDGET in output.get("data", {}) and BAR_FRAME.search(text):
        return [
            "progress bar stored as a widget (a saved notebook shows its empty text form); "
            "execute with tools/run_notebooks.py (GNNREC_PROGRESS=summary)"
        ]
    if FROZEN_BAR.search(text):
        return ["progress bar frozen at 0%|"]
    stopped = sorted({int(m) for m in BAR_FRAME.findall(text)} - {100})
    if stopped:
        return [f"progress bar stored at {stopped[0]}%|, never finished"]
    return []


def clean(nb: dict) -> dict:
    """Return the normalised notebook (outputs kept)."""
    meta = nb.get("metadata", {})
    nb["metadata"] = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
    }
    if "celltoolbar" in meta:
        nb["metadata"]["celltoolbar"] = meta["celltoolbar"]
    count = 0
    for cell in nb.get("cells", []):
        cmeta = cell.get("metadata", {})
        for key in CELL_KEYS_DROPPED:
            cmeta.pop(key, None)
        tags = [t for t in cmeta.get("tags", []) if t != "injected-parameters"]
        if tags:
            cmeta["tags"] = tags
        else:
            cmeta.pop("tags", None)
        cell["metadata"] = cmeta
        if cell.get("cell_type") == "code":
            if cell.get("source"):
                count += 1
                cell["execution_count"] = count
                for out in cell.get("outputs", []):
                    if "execution_count" in out:
                        out["execution_count"] = count
            else:
                cell["execution_count"] = None
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args(argv)
    status = 0
    for path in args.paths:
        original = path.read_text()
        nb = json.loads(original)
        if "injected-parameters" in json.dumps(nb.get("cells", [])):
            # papermill's injected cell must not be committed: drop it
            nb["cells"] = [
                c
                for c in nb["cells"]
                if "injected-parameters" not in c.get("metadata", {}).get("tags", [])
            ]
        cleaned = dumps(clean(nb))
        for problem in problems(nb):
            print(f"{path}: {problem}")
            status = 1
        if cleaned != original:
            if args.check:
                print(f"{path}: not clean (run `make clean-notebooks`)")
                status = 1
            else:
                path.write_text(cleaned)
                print(f"{path}: cleaned")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
