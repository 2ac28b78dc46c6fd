#!/usr/bin/env bash
# GPU check (issue 16): one script, under 8 minutes on one GPU (an H200 when lent).
#   1. installs what it needs: wheels carried in .whl/ (pip --no-index), else what is present;
#   2. certifies the kernels on CUDA (Triton compiled, not interpreted) with `mccc certify`;
#   3. runs benchmarks/gpu_check.py: the Triton scan (sequential and chunk-parallel) against the
#      device's copy bandwidth, flash-linear-attention's HGRN / simple-GLA chunk kernels when
#      importable, and the layer's training step against SDPA / flash attention;
#   4. writes reports/gpu.json (and reports/gpu-certify.json), which the report and
#      bench_kernels.py show; until then their GPU rows say "not measured".
# Usage (repository root): bash benchmarks/gpu_check.sh [--quick]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
QUICK=${1:-}
start=$(date +%s)

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    # only the carried wheels: the device machine has no network
    "$PY" -m pip install --quiet --no-index --find-links .whl .whl/*.whl || echo "[gpu] some wheels failed to install"
fi
"$PY" -m pip install --quiet --no-deps --no-build-isolation --no-index -e . \
    || echo "[gpu] editable install failed; using the source tree on PYTHONPATH"
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
"$PY" - <<'PY'
import importlib
for name in ("torch", "triton", "numba", "hypothesis", "fla"):
    try:
        mod = importlib.import_module(name)
        print(f"[gpu] {name} {getattr(mod, '__version__', '?')}")
    except Exception as exc:
        print(f"[gpu] {name}: not importable ({type(exc).__name__})")
import torch
print(f"[gpu] cuda: {torch.cuda.is_available()} {torch.cuda.get_device_name() if torch.cuda.is_available() else ''}")
PY

mkdir -p reports
unset TRITON_INTERPRET  # compiled Triton on the device
examples=40
[ "$QUICK" = "--quick" ] && examples=5
timeout 240 "$PY" -c "import sys; from mccc_theory.cli import main; sys.exit(main(sys.argv[1:]))" \
    certify --backend triton --backend torch --examples "$examples" \
    --out reports/gpu-certificates --json reports/gpu-certify.json
echo "[gpu] certify exit $? after $(( $(date +%s) - start )) s"

timeout 200 "$PY" benchmarks/gpu_check.py --out reports/gpu.json \
    --certify-json reports/gpu-certify.json $QUICK
rc=$?
echo "[gpu] benchmarks exit $rc after $(( $(date +%s) - start )) s"
exit $rc
