#!/usr/bin/env bash
# Re-run the public RecBole 1.2.1 models on the course's split (optional; not part of make test).
#
#   benchmarks/peers/run_recbole.sh [MODEL ...]     # default: bpr lightgcn ngcf
#
# MODEL is the name of a configuration file here without .yaml: bpr, lightgcn, ngcf, or
# lightgcn_stop10 (RecBole's default early stopping, the trap described in lightgcn.yaml).
# Builds a throw-away venv in $PEERS_DIR (default outputs/peers/, removed by make clean) with
# the versions that make RecBole 1.2.1 run today, writes notebook 01's split as RecBole atomic
# files, trains each model and writes outputs/peers/results/<model>.json (test Recall@20, NDCG@20
# ...). Needs the course's .venv and data/processed (make setup; notebook 01 run once).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/outputs/peers}"
PYTHON="${PYTHON:-python3}"
VENV="$PEERS_DIR/venv"
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(bpr lightgcn ngcf)

declare -A RECBOLE_NAME=([bpr]=BPR [lightgcn]=LightGCN [lightgcn_stop10]=LightGCN [ngcf]=NGCF)
for m in "${MODELS[@]}"; do
  if [ -z "${RECBOLE_NAME[$m]:-}" ] || [ ! -f "$HERE/$m.yaml" ]; then
    echo "error: unknown model '$m'; choose from: ${!RECBOLE_NAME[*]}" >&2
    exit 2
  fi
done

if [ ! -x "$VENV/bin/python" ]; then
  echo "== building $VENV"
  "$PYTHON" -m venv "$VENV"
  # Pins that make RecBole 1.2.1 run today (issue 12): CPU torch; numpy 1.26 (RecBole aliases
  # np.float = np.float_, gone in NumPy 2); scipy 1.12 (its LightGCN/NGCF call dok_matrix._update, gone in 1.13); ray 2.6.3
  # with setuptools < 81 (imported at start-up); pandas 2.2 (built against numpy 1.x).
  "$VENV/bin/pip" install --quiet \
    "torch==2.13.0" "recbole==1.2.1" "numpy==1.26.4" "scipy==1.12.0" "ray==2.6.3" \
    "setuptools<81" "pandas==2.2.3"
fi

echo "== exporting notebook 01's split"
"$ROOT/.venv/bin/python" "$HERE/export_split.py" "$PEERS_DIR/dataset"

# RecBole reloads its best checkpoint with a bare torch.load (weights_only is the default now).
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
mkdir -p "$PEERS_DIR/results"
for m in "${MODELS[@]}"; do
  echo "== $m (RecBole ${RECBOLE_NAME[$m]})"
  (cd "$PEERS_DIR" && "$VENV/bin/python" "$HERE/run_recbole.py" "${RECBOLE_NAME[$m]}" \
    "$HERE/$m.yaml" --data-path "$PEERS_DIR/dataset" --out "$PEERS_DIR/results/$m.json" \
    2>&1 | tee "$PEERS_DIR/results/$m.log")
done
echo "== results in $PEERS_DIR/results/"
