#!/usr/bin/env bash
# One GPU sprint in one command of at most 8 minutes, on a machine that reaches no network:
# install what .gpu_sprint/ carries, measure training images/s in bf16, train the shipped recipe
# (EfficientNet-Lite0 under a U-Net decoder, landscapes + photos-varied, multi-scale crops of the
# large photos) warm-started from the shipped model (EfficientNet-Lite0, gen7's weights) for the time left, encoder included, export it,
# and score it on the carried validation photos. Everything worth keeping lands in $OUT (the device
# tool brings it back).
#
#   python experiments/gpu_sprint_prepare.py          # here, once: wheels + a dataset subset
#   device run: bash experiments/gpu_sprint.sh        # carry: [".gpu_sprint"]
#   SPRINT_SECONDS=60 PROBE_STEPS=3 bash experiments/gpu_sprint.sh   # a tiny rehearsal on a CPU
#
# Back here: reassemble the weights (cat model.safetensors.part-* > model.safetensors, next to
# config.json), then score on the full validation split and photos-hq with `pix2pix-color evaluate`;
# ship only if it beats the shipped model on both, in PSNR and hue hit rate.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
SPRINT_SECONDS=${SPRINT_SECONDS:-420}   # training + export + validation; the install comes first
PROBE_STEPS=${PROBE_STEPS:-150}
BATCH=${BATCH:-64}
OUT=${OUT:-/tmp/gpu_sprint_out}
WORK=${WORK:-/tmp/gpu_sprint}
DATA=${DATA:-.gpu_sprint/landscapes}
VARIED=${VARIED:-.gpu_sprint/photos-varied}
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/sprint.log") 2>&1

if [ -d .gpu_sprint/wheels ] && ! python3 -c "import datasets, tyro" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu_sprint/wheels/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
# The library, from this checkout (no build isolation: nothing can be downloaded).
python3 -c "import pix2pix_color" 2>/dev/null || {
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site . && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
}
export PYTHONPATH=$PWD:${PYTHONPATH:-}   # train/ runs from the checkout
python3 - <<'EOF'
import torch, datasets, accelerate
device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU (CPU rehearsal)"
print(f"torch {torch.__version__}, datasets {datasets.__version__}, accelerate {accelerate.__version__}; {device}")
EOF

# The shipped model's recipe (its card's command), continued from its weights: the encoder trains
# from the first step (the warm start is past the frozen phase) at a tenth of the decoder's rate.
RECIPE=(--dataset "$DATA" --mix-with "$VARIED" --preset cpu-pretrained --init-from pix2pix_color/default_model
        --head classification --color-rebalance 0.5 --hints --multiscale-crops --batch-size "$BATCH"
        --mixed-precision bf16 --num-workers 4 --validation-images 300 --export-dtype float16 ${EXTRA_FLAGS:-})

# 1. Speed: a short run; its run.json has the training loop's images/s.
python3 -m train "${RECIPE[@]}" --output-dir "$WORK/probe" --max-steps "$PROBE_STEPS" \
  --l1-warmup-steps "$PROBE_STEPS" --validate-every 100000 --checkpoint-every 100000
RATE=$(python3 -c "import json; t=json.load(open('$WORK/probe/run.json'))['timings']; print(round(t['loop_steps'] * $BATCH / t['loop_seconds'], 1))")
cp "$WORK/probe/run.json" "$OUT/probe_run.json"

# 2. The longest run that fits: the time left, less a minute for export, calibration and validation.
#    A warm start begins with a fresh Adam state: the warm-up and the EMA keep its first steps from
#    costing what the shipped model had (CPU long runs: photos-hq 20.74 dB at +32,000 images with
#    both, 20.48 without; experiments/README.md).
#    At most MAX_EPOCHS passes over the carried photos, a fifth of the split: on the CPU the
#    continuations' best photos-hq points came within 7 passes over the whole split, and every pass
#    after that traded photos-hq PSNR for bolder colors (experiments/README.md, gen4 and gen5).
LEFT=$(( SPRINT_SECONDS - ($(date +%s) - START) - 60 ))
PHOTOS=$(python3 -c "import glob, pyarrow.parquet as pq; print(sum(pq.ParquetFile(f).metadata.num_rows for f in glob.glob('$DATA/data/train-*.parquet')))")
STEPS=$(python3 -c "print(max(10, min(int($RATE * max($LEFT, 10) / $BATCH * 0.9), ${MAX_EPOCHS:-20} * $PHOTOS // $BATCH)))")
echo "probe: $RATE images/s at batch $BATCH; training $STEPS steps (at most ${MAX_EPOCHS:-20} passes over $PHOTOS photos) in the ${LEFT}s left"
python3 -m train "${RECIPE[@]}" --output-dir "$WORK/run" --max-steps "$STEPS" --l1-warmup-steps "$STEPS" \
  --lr 1e-4 --lr-warmup-steps $(( STEPS / 10 + 1 )) --lr-decay-steps $(( STEPS / 2 )) --ema-decay 0.999 \
  --validate-every "$STEPS" --checkpoint-every $(( STEPS / 4 + 1 ))

# 3. The decoding temperature chosen as the shipped model's was (the best PSNR on 200 training
#    photos of each set), which also re-validates and redoes the card.
python3 -m train.calibrate "$WORK/run" --photos 200 --criterion psnr --also "$VARIED"

# 4. What comes back: files of at most 16 MiB each, at most 8 of them.
MODEL="$WORK/run/model"
cp "$MODEL/config.json" "$WORK/run/run.json" "$WORK/run/metrics.json" "$OUT/"
split -b 15M "$MODEL/model.safetensors" "$OUT/model.safetensors.part-"
python3 - "$OUT" "$STEPS" "$BATCH" "$PHOTOS" <<'EOF'
import json, sys
out, steps, batch, photos = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
probe, run, metrics = (json.load(open(f"{out}/{n}.json")) for n in ("probe_run", "run", "metrics"))
rate = lambda record: round(record["timings"]["loop_steps"] * batch / record["timings"]["loop_seconds"], 1)
summary = {
    "hardware": run.get("hardware"),
    "images_per_second_probe": rate(probe),
    "images_per_second_run": rate(run),
    "steps": steps,
    "images_seen": steps * batch,
    "passes_over_the_photos": round(steps * batch / photos, 1),
    "validation": {k: metrics[k] for k in ("model", "gray") if k in metrics},
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
EOF
echo "sprint done in $(( $(date +%s) - START )) s"
