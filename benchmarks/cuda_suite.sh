#!/usr/bin/env bash
# Issue 19: everything in cnnzoo that needs a CUDA card, in one command, within 8 minutes of device time.
#
#   bash benchmarks/cuda_suite.sh            # on the card: every result in benchmarks/results/, named with
#                                            # the card (lrn-nvidia-h200-float32.json, ...)
#   bash benchmarks/cuda_suite.sh --dry-run  # the same steps on the CPU with tiny settings (or DRY_RUN=1),
#                                            # into a temporary folder: proves the script, judges nothing
#
# Options: --results DIR (where to write), --archive FILE (also pack every file the run wrote into one
# .tar.gz, for a machine that sends few files back), --budget SECONDS (the whole run's limit; 450 by
# default, 7.5 minutes; a dry run doubles it and every step's limit, since a shared two-core machine is
# slow for reasons of its own). PYTHON names the interpreter (default: this checkout's .venv/bin/python
# when it exists, else python3).
#
# Setup: `pip install -e ".[test,bench]"` where a package registry is reachable. The device machine reaches
# no network, so pip can install nothing there, and nothing needs to be: its image holds torch, torchvision,
# triton, timm, tqdm, matplotlib, pytest and hypothesis, and this script puts the checkout's src/ first on
# PYTHONPATH, so cnnzoo runs uninstalled (offline, `pip install --no-build-isolation --no-deps -e .` would
# install it too). A missing optional package degrades as the scripts already do: without timm its rows are
# skipped and say so, without matplotlib no chart is drawn, without triton the LRN op warns and takes its
# PyTorch path (the preflight line names what is missing).
#
# Each step runs under a time limit: its own, and never past the run's budget; a step that fails or runs out
# of time is recorded and the next one runs. Exit statuses and times go to RESULTS/logs-SLUG/steps.tsv and
# each step's output to a log beside it; cuda_suite_report.py then sets them beside the issue's targets in
# RESULTS/cuda_suite-SLUG.md (and .json). The exit status is 0 only when every step succeeded; whether each
# target was met is in that report.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

DRY_RUN=${DRY_RUN:-0}
RESULTS=""
ARCHIVE=""
BUDGET=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --results) RESULTS=${2:?--results needs a folder}; shift ;;
        --archive) ARCHIVE=${2:?--archive needs a file name}; shift ;;
        --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
        -h|--help) sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "cuda_suite.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
# this checkout's cnnzoo, installed or not
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg TQDM_MININTERVAL=10

# The device's slug names every file: "nvidia-h200" from torch.cuda.get_device_name(), "cpu" in a dry run.
# The same Python snippet says which optional packages are missing, before any step depends on them.
PREFLIGHT='
import importlib.util, re, sys, torch, cnnzoo
dry = sys.argv[1] == "1"
if not dry and not torch.cuda.is_available():
    sys.exit("no CUDA device is visible to PyTorch: run this on the card, or with --dry-run on the CPU")
name = "cpu" if dry else torch.cuda.get_device_name()
missing = [m for m in ("torchvision", "triton", "timm", "matplotlib", "tqdm", "pytest", "hypothesis")
           if importlib.util.find_spec(m) is None]
missing = ", ".join(missing) or "none"
print(f"device {name}; torch {torch.__version__} (CUDA {torch.version.cuda}); cnnzoo {cnnzoo.__version__} from "
      f"{cnnzoo.__file__}; not installed: {missing}", file=sys.stderr)
print(re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
'
SLUG=$("$PYTHON" -c "$PREFLIGHT" "$DRY_RUN" | tail -n 1) || exit 2

if [ -z "$RESULTS" ]; then
    if [ "$DRY_RUN" = 1 ]; then RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/cuda_suite.XXXXXX"); else RESULTS="$ROOT/benchmarks/results"; fi
fi
mkdir -p "$RESULTS" || exit 2
RESULTS=$(cd "$RESULTS" && pwd)
LOGS="logs-$SLUG"  # inside RESULTS
mkdir -p "$RESULTS/$LOGS"
STAMP=$(mktemp)  # files newer than this one are what the run wrote
STEPS="$RESULTS/$LOGS/steps.tsv"
: >"$STEPS"
SCALE=$((DRY_RUN == 1 ? 2 : 1))
BUDGET=${BUDGET:-$((450 * SCALE))}
STARTED=$SECONDS
DEADLINE=$((SECONDS + BUDGET))
HAVE_TIMEOUT=1
command -v timeout >/dev/null || { HAVE_TIMEOUT=0; echo "no timeout command: steps run without a time limit" >&2; }
echo "cuda suite on $SLUG: results in $RESULTS, budget ${BUDGET} s"

# run_step NAME LIMIT COMMAND...: run COMMAND for at most LIMIT seconds (less if the budget has less left),
# its output in RESULTS/LOGS/NAME.log; record its exit status and time, print the log's tail.
run_step() {
    local name=$1 limit=$(($2 * SCALE)) left status start log="$LOGS/$1.log"
    shift 2
    left=$((DEADLINE - SECONDS))
    [ "$limit" -gt "$left" ] && limit=$left
    if [ "$limit" -lt 15 ]; then
        printf '%s\tskipped\t0\t%s\t%s\n' "$name" "$limit" "$log" >>"$STEPS"
        echo "== $name: skipped, ${left} s of the budget left"
        return
    fi
    echo "== $name (at most ${limit} s): $*"
    start=$SECONDS
    if [ "$HAVE_TIMEOUT" = 1 ]; then
        timeout --kill-after=10 "$limit" "$@" >"$RESULTS/$log" 2>&1
    else
        "$@" >"$RESULTS/$log" 2>&1
    fi
    status=$?
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" "$limit" "$log" >>"$STEPS"
    tail -n 12 "$RESULTS/$log" | tr '\r' '\n' | tail -n 12 | sed 's/^/   | /'
    echo "== $name: exit status $status after $((SECONDS - start)) s"
}

# Settings: the issue's on the card; the smallest that exercise the same code on the CPU in a dry run.
if [ "$DRY_RUN" = 1 ]; then
    DEVICE=cpu
    LRN_DTYPES=(float32)  # nn.LocalResponseNorm, the reference, has no bfloat16 kernel on the CPU (avg_pool3d)
    LRN=(--shapes 2x16x9x9 --repeats 2 --warmup 1)
    DENSENET=(--batch-sizes 2 --input-size 32 --repeats 1 --threads 1 --variants plain,cnnzoo)
    CHECKS=(--models cifar_resnet20,resnet18 --batch-size 2 --input-size 32 --card-models cifar_resnet20
            --card-budget 40MiB --threads 1)
    THROUGHPUT=(--models resnet18,googlenet --batch-size 2 --input-size 32 --steps 1 --warmup 1 --threads 1)
else
    DEVICE=cuda
    LRN_DTYPES=(float32 bfloat16)
    LRN=(--repeats 50 --warmup 5)  # both of AlexNet's LRN inputs: 32x96x55x55 and 32x256x27x27
    DENSENET=(--batch-sizes 64 --repeats 20)
    CHECKS=(--models alexnet,resnet18,resnet50,densenet121 --batch-size 32 --card-models alexnet,densenet121
            --card-budget 2GiB)
    THROUGHPUT=(--models resnet50,densenet121,vgg16,alexnet,googlenet --batch-size 128 --steps 50 --warmup 10)
fi

# 1. Every CUDA-marked test, the Triton LRN kernels included (on the CPU they all skip: this checks that
#    they are collected). A test module that fails to import on the card's PyTorch fails the step but
#    does not stop the CUDA tests of the others.
run_step pytest 180 "$PYTHON" -m pytest -m cuda -q -p no:cacheprovider --continue-on-collection-errors

# 2. The fused LRN against nn.LocalResponseNorm at 32x96x55x55: forward+backward at least 4x faster, in
#    fp32 and in bf16, keeping at most 1.0x the input for backward.
for dtype in "${LRN_DTYPES[@]}"; do
    run_step "lrn-$dtype" 45 "$PYTHON" benchmarks/lrn.py --device "$DEVICE" --dtype "$dtype" "${LRN[@]}" \
        --json "$RESULTS/lrn-$SLUG-$dtype.json"
done

# 3. Memory-efficient DenseNet-121 at batch 64: at least 3x lower peak than the plain network, at no more
#    than 1.10x its step time, beside torchvision's memory_efficient.
run_step densenet_memory 60 "$PYTHON" benchmarks/densenet_memory.py --device "$DEVICE" --depths 121 "${DENSENET[@]}" \
    --json "$RESULTS/densenet_memory-$SLUG.json"

# 4. The estimator within 10% of max_memory_allocated for four models, and a 2 GiB card emulated with
#    set_per_process_memory_fraction: max_batch_size's answer for AlexNet and DenseNet-121 fits and one more
#    does not. Before the throughput run, the longest step, so that it cannot take this one's time.
run_step cuda_checks 75 "$PYTHON" benchmarks/cuda_checks.py --device "$DEVICE" "${CHECKS[@]}" \
    --json "$RESULTS/cuda_checks-$SLUG.json"

# 5. Training throughput in bf16 with channels-last beside torchvision and timm: cnnzoo at least 0.97x of
#    each, and the fraction of the card's bf16 peak. The JSON is rewritten after every model, so a run cut
#    short keeps the models it measured.
run_step throughput 210 "$PYTHON" benchmarks/throughput.py --device "$DEVICE" --mode train --amp bf16 --channels-last \
    --compare torchvision,timm "${THROUGHPUT[@]}" --json "$RESULTS/throughput-$SLUG-bf16-train.json"

echo "== all steps: $((SECONDS - STARTED)) s"
failed=$(awk -F'\t' '$2 != "0"' "$STEPS" | wc -l)
# The report: each step's status and each target's verdict, printed and written beside the results.
"$PYTHON" benchmarks/cuda_suite_report.py --results "$RESULTS" --slug "$SLUG" --steps "$STEPS" || failed=$((failed + 1))

if [ -n "$ARCHIVE" ]; then
    mkdir -p "$(dirname "$ARCHIVE")"
    (cd "$RESULTS" && find . -type f -newer "$STAMP" -print0 | tar -czf "$ARCHIVE" --null -T -) \
        && echo "packed every file the run wrote into $ARCHIVE" || failed=$((failed + 1))
fi
rm -f "$STAMP"
echo "cuda suite: $((SECONDS - STARTED)) s in all; $failed failed; results in $RESULTS"
[ "$failed" -eq 0 ]
