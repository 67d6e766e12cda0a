#!/usr/bin/env bash
# One visit to a GPU machine, prepared here and run there in one command.
#
#   bash tool/gpu_session.sh prepare   # here, with PyPI: wheels for the device into .wheels/
#   bash tool/gpu_session.sh run       # there (carry .wheels): install, gpu_check, bench_learn
#
# The device brings its own Python 3.12 with torch and torchvision; the wheels add what it lacks
# (installed without dependencies, so its torch stays). The run writes everything under $OUT
# (the device tool's folder that comes back) or output/gpu_session, and takes at most about
# 8 minutes: gpu_check stops starting sections after 300 s, bench_learn trains for 2 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=.wheels
# What the device lacks, with the pure-Python or binary dependencies pyrender needs.
PACKAGES=(smplx kornia kornia_rs pyrender-maintained PyOpenGL trimesh pycocotools freetype-py
          pyglet imageio networkx)

case "${1:-}" in
  prepare)
    mkdir -p "$WHEELS"
    grep -qx "/$WHEELS/" .git/info/exclude 2>/dev/null || echo "/$WHEELS/" >> .git/info/exclude
    pip download -q --only-binary=:all: --no-deps --python-version 3.12 \
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux_2_28_x86_64 -d "$WHEELS" "${PACKAGES[@]}"
    du -sh "$WHEELS"
    ;;
  run)
    out=${OUT:-output/gpu_session}
    mkdir -p "$out"
    if [ -d "$WHEELS" ]; then
      pip install -q --no-index --no-deps --find-links "$WHEELS" "${PACKAGES[@]}" \
        > "$out/install.txt" 2>&1 || { echo "wheel install failed: $out/install.txt"; exit 2; }
    fi
    export PYOPENGL_PLATFORM=egl
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/nvidia_smi.txt" 2>&1
    timeout 360 python tool/gpu_check.py --out "$out" > "$out/gpu_check_log.txt" 2>&1
    check=$?
    learn=skipped
    if [ -f tool/bench_learn.py ]; then
      timeout 200 python tool/bench_learn.py --gpu 0 --minutes 2 --out "$out/learn" \
        > "$out/bench_learn_log.txt" 2>&1
      learn=$?
    fi
    echo "gpu_check exit $check, bench_learn exit $learn; reports in $out"
    tail -n 40 "$out/gpu_check.md" 2>/dev/null
    [ "$check" -eq 0 ]
    ;;
  *)
    echo "usage: bash tool/gpu_session.sh prepare|run" >&2
    exit 2
    ;;
esac
