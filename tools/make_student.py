"""Write the student edition of the notebooks: solutions replaced by stubs (`make student`).

    python tools/make_student.py [--out student] [notebooks/NN_*.ipynb ...]

Every code cell tagged ``solution`` must start with a line ``# Solution — Exercise N.M: title``.
In the student copy its source becomes a stub that raises
``NotImplementedError("Exercise N.M: title — …")`` and its outputs are cleared; every other
cell is copied unchanged, so the two editions differ only in the tagged cells
(tests/unit/test_student_edition.py checks that).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from _notebooks import ROOT, course_notebooks  # tools/ is on sys.path: this runs as a script

HEADER = re.compile(r"^#\s*Solution\s*[—-]+\s*(Exercise\s+[\d.]+)\s*:\s*(.+?)\s*$")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def stub_for(cell: dict, path: Path) -> str:
    """The stub that replaces one solution cell."""
    first = (_source(cell).splitlines() or [""])[0]
    match = HEADER.match(first)
    if not match:
        raise SystemExit(
            f"{path}: a cell tagged 'solution' must start with "
            f"'# Solution — Exercise N.M: title', found {first!r}"
        )
    label, title = match.groups()
    message = f"{label}: {title} — replace this line with your solution"
    return f"# {label}: {title}\n# Your solution here.\nraise NotImplementedError({message!r})\n"


def student_edition(nb: dict, path: Path) -> tuple[dict, int]:
    """Return the student copy of ``nb`` and the number of solution cells replaced."""
    replaced = 0
    for cell in nb["cells"]:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = stub_for(cell, path).splitlines(keepends=True)
            cell["outputs"] = []
            cell["execution_count"] = None
            replaced += 1
    return nb, replaced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    args = parser.parse_args(argv)
    paths = args.notebooks or course_notebooks()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb, replaced = student_edition(json.loads(path.read_text()), path)
        if replaced == 0:
            print(
                f"{path.name}: no solution cells — every notebook needs exercises", file=sys.stderr
            )
            return 1
        target = args.out / path.name
        target.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        print(f"{path.name}: {replaced} solution cell(s) replaced -> {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
