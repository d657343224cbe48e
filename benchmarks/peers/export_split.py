"""Write notebook 01's random split as RecBole atomic files (run with the course's Python).

    .venv/bin/python benchmarks/peers/export_split.py OUT_DIR [--dataset gnnrec-ml100k]

Writes ``OUT_DIR/<dataset>/<dataset>.{train,valid,test}.inter``: tab-separated, header
``user_id:token<TAB>item_id:token``, one row per interaction of ``data/processed``'s
``random_{train,valid,test}`` arrays (0-based course indices as tokens; every rating is a
positive, as in the course). RecBole reads them with ``benchmark_filename: [train, valid, test]``
and keeps the split as it is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gnnrec_utils import paths  # noqa: E402
from gnnrec_utils.artefacts import load_artefacts  # noqa: E402

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--dataset", default="gnnrec-ml100k")
    args = p.parse_args(argv)
    art = load_artefacts(
        paths.data_dir() / "processed",
        expect={"split_fractions": [0.7, 0.1, 0.2], "implicit_threshold": None},
    )
    folder = Path(args.out_dir) / args.dataset
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("train", "valid", "test"):
        u = art.arrays[f"random_{part}_user"].astype(np.int64)
        i = art.arrays[f"random_{part}_item"].astype(np.int64)
        path = folder / f"{args.dataset}.{part}.inter"
        with path.open("w") as f:
            f.write("user_id:token\titem_id:token\n")
            f.writelines(f"{a}\t{b}\n" for a, b in zip(u, i, strict=True))
        print(f"{path}: {u.size:,} interactions, {np.unique(u).size} users")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
