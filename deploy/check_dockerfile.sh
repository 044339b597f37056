#!/bin/sh
# Runs deploy/Dockerfile's commands in a virtualenv instead of an image (no container
# runtime can pull images here): the same installs and init, then `labelloop start --check`.
# Usage: sh deploy/check_dockerfile.sh SCRATCH_DIR   (from the repository root)
set -eu
root=$(pwd)
scratch=${1:?usage: check_dockerfile.sh SCRATCH_DIR}
rm -rf "$scratch" && mkdir -p "$scratch/src"
python3 -m venv "$scratch/venv"
PATH="$scratch/venv/bin:$PATH"
export PIP_NO_CACHE_DIR=1 MODEL_DIR="$scratch/data" LABELLOOP_CACHE_DIR="$scratch/cache"
# COPY pyproject.toml README.md ./ ; COPY src ./src
cp "$root/pyproject.toml" "$root/README.md" "$scratch/src/"
cp -r "$root/src" "$scratch/src/src"
cd "$scratch/src"
# RUN pip install '.[examples,redis,s3]'
pip install -q '.[examples,redis,s3]'
# RUN labelloop init /backend --example text
labelloop init "$scratch/backend" --example text
mkdir -p "$scratch/data" "$scratch/cache"
# CMD, checked: the model builds, then a worker's command parses
labelloop start "$scratch/backend" --host 0.0.0.0 --port 9090 --check
labelloop worker --help > /dev/null
python -c "import s3fs, fsspec, redis, rq; print('s3fs', s3fs.__version__)"
echo "Dockerfile commands: ok"
