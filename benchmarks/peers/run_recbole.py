"""Train one RecBole 1.2.1 model on the exported course split; print and save test metrics.

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 python run_recbole.py MODEL CONFIG.yaml \
        --data-path DIR --out RESULT.json

Runs in the throw-away environment that ``run_recbole.sh`` builds (RecBole and torch are not
course dependencies). ``MODEL`` is RecBole's name (``BPR``, ``LightGCN``, ``NGCF``); the
configuration files are ``recbole_common.yaml`` followed by ``CONFIG.yaml``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("config")
    p.add_argument("--data-path", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint-dir", default=None)
    args = p.parse_args(argv)

    from recbole.quick_start import run_recbole

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    overrides = {
        "data_path": args.data_path,
        "checkpoint_dir": args.checkpoint_dir or str(out.parent / "saved"),
    }
    t0 = time.perf_counter()
    result = run_recbole(
        model=args.model,
        config_file_list=[str(HERE / "recbole_common.yaml"), args.config],
        config_dict=overrides,
    )
    record = {
        "model": args.model,
        "config": Path(args.config).name,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "best_valid_score": float(result["best_valid_score"]),
        "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
    }
    text = json.dumps(record, indent=2)
    out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
