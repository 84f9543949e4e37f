#!/usr/bin/env bash
# Wheels that the H200 image lacks (see /work/.library/device/KINDS.md), saved to .whl/ in the repository root for
# `run(carry=[".whl"])`. Run here, once per checkout, from anywhere inside the repository:
#
#     bash benchmarks/gpu/fetch_wheels.sh
#
# The image has torch 2.11, transformers, accelerate, peft, huggingface_hub 1.x, pyarrow, pandas and xxhash. datasets
# is pinned to 4.0.0, the lowest version CI tests (.ci/lowest-constraints.txt), because later releases need a newer
# pyarrow than the image may hold (pyarrow's wheel would not fit in the 64 MiB that travels); dill, multiprocess and
# fsspec are the versions datasets 4.0.0 accepts.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
    av==18.1.0 datasets==4.0.0 evaluate==0.4.6 dill==0.3.8 multiprocess==0.70.16 fsspec==2025.3.0
ls -la .whl
du -sh .whl
