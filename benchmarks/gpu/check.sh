#!/usr/bin/env bash
# One-shot GPU check for the throughput issues (#17, #11, #30), sized for a 10-minute run on a GPU machine. Prepare
# the wheels on a networked machine first (`bash benchmarks/gpu/fetch_wheels.sh`), copy `.whl/` next to the checkout
# on the GPU machine, then run `bash benchmarks/gpu/check.sh` there (DEVELOPERS.md).
#
# Every step has its own time limit and the log goes to $OUT/gpu_check.log, so a step that hangs costs its limit and
# the others still report. STEPS picks the steps (default: the core set, about 5 minutes on an H200, leaving time
# to rerun); STEPS=all adds the compiled model benchmark, compiled training of every method and the profiler.
#
#   model          bench_model.py: bare tower vs mean/vclip/viclip inference, eager, bf16, batch 32; then the
#                  pipeline over 512 H.264 files with the machine's cores as workers vs the model alone (#11)
#   train          bench_train.py: the tower anchor and ce, froster, open_vclip, taco, open_mede, eager, --bf16 (#17)
#   train_compile  bench_train.py --compile for ce and taco (all methods with STEPS=all) (#17)
#   toy_bf16       the main job's recipe (toy-b2n, taco) for 40 steps under --bf16 on CUDA, evaluated (the brief)
#   model_compile  bench_model.py --compile (#17: mean >= 0.9x the compiled tower, vclip <= 1.15x mean)
#   profile        profile_train_step.py --device cuda --bf16: host reads and CUDA time in the blocks (#17)
#
# On the CPU (a smoke test of this script, minutes): DEVICE=cpu bash benchmarks/gpu/check.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-model train train_compile toy_bf16}
STEPS_ALL=0
if [ "$STEPS" = all ]; then STEPS_ALL=1; STEPS="model train train_compile toy_bf16 model_compile profile"; fi
TOY_DIR=${TOY_DIR:-/tmp/gpu_toy_taco}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

# The carried wheels are built for the device's Python 3.12; the CPU smoke test uses this machine's packages.
if [ "$DEVICE" != cpu ] && ls .whl/*.whl >/dev/null 2>&1; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed" | tee -a "$LOG"; exit 1; }
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if [ "$DEVICE" = cpu ]; then  # smoke sizes
    MODEL_ARGS="--device cpu --batch 1 --repeats 1 --dtypes float32 --pipeline_videos 2 --pipeline_workers 2"
    TRAIN_ARGS="--device cpu --small --batch 4 --no_checkpointing_rows"
    TOY_ARGS="--max_steps 4 --use_cpu"
else
    MODEL_ARGS="--device cuda --batch 32 --repeats 10 --dtypes bfloat16 --pipeline_videos 512"
    TRAIN_ARGS="--device cuda --bf16 --batch 32 --no_checkpointing_rows"
    TOY_ARGS="--max_steps 40 --bf16"
fi

step() {  # step NAME LIMIT_S COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s): $*" | tee -a "$LOG"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | grep -v -E "Loading weights|Writing model shards|it/s\]$" | tee -a "$LOG"
    echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$LOG"
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null
    $PYTHON -c "import torch, transformers, datasets, av; print('torch', torch.__version__, '| transformers', transformers.__version__, '| datasets', datasets.__version__, '| av', av.__version__, '| cuda', torch.cuda.is_available())"
    nproc
} 2>&1 | tee -a "$LOG"

for name in $STEPS; do
    case $name in
        model) step model 150 $PYTHON benchmarks/bench_model.py $MODEL_ARGS ;;
        train) step train 150 $PYTHON benchmarks/bench_train.py $TRAIN_ARGS --steps 8 ;;
        train_compile)
            methods=ce,taco
            [ "$STEPS_ALL" = 1 ] && methods=ce,froster,open_vclip,taco,open_mede
            step train_compile 180 $PYTHON benchmarks/bench_train.py $TRAIN_ARGS --compile --steps 20 --methods $methods ;;
        toy_bf16) step toy_bf16 150 $PYTHON recipes/train.py --method taco --output_dir "$TOY_DIR" $TOY_ARGS ;;
        model_compile) step model_compile 240 $PYTHON benchmarks/bench_model.py $MODEL_ARGS --compile --skip_pipeline ;;
        profile) step profile 120 $PYTHON benchmarks/profile_train_step.py --device "$DEVICE" $([ "$DEVICE" = cuda ] && echo --bf16) --methods ce,taco ;;
        *) echo "unknown step $name" | tee -a "$LOG" ;;
    esac
done
[ -f "$TOY_DIR/results.json" ] && cp "$TOY_DIR/results.json" "$OUT/toy_bf16_results.json"
echo "done in $SECONDS s" | tee -a "$LOG"
