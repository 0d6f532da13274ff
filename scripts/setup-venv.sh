#!/usr/bin/env bash
# Creates .venv (in the repository root) with the Python side of the tests:
# TensorBoard (the compatibility tests, and `tensorboard --logdir logs`),
# PyTorch with safetensors (the gradient check) and tensorboardX with the
# Pillow and soundfile its add_image and add_audio need (the
# gradscope-tensorboard test that compares records with tensorboardX's; a
# few MB beside torch), pandas with pyarrow (the `export` test reads its
# CSV, JSON Lines and Parquet back), and moto's S3 server with boto3 (the
# object-storage tests start the server; TensorBoard reads s3:// logdirs
# through boto3). Idempotent.
#   scripts/setup-venv.sh            # or GRADSCOPE_VENV=/some/dir scripts/setup-venv.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GRADSCOPE_VENV:-$root/.venv}"
# Pinned so a release cannot change what the tests check overnight.
packages=(tensorboard==2.21.0 torch==2.15.0 safetensors==0.8.0
          tensorboardX==2.6.5 pillow==13.0.0 soundfile==0.14.0 pandas==2.2.3
          pyarrow==26.0.1 "moto[server]==5.2.6" boto3==1.44.18)
check='
import sys, tensorboard, torch, safetensors, tensorboardX, PIL, soundfile, pandas, pyarrow
import moto, moto.server, boto3
wanted = dict(p.split("==") for p in sys.argv[1:])
found = {"tensorboard": tensorboard.__version__, "torch": torch.__version__.split("+")[0],
         "safetensors": safetensors.__version__, "tensorboardX": tensorboardX.__version__,
         "pillow": PIL.__version__, "soundfile": soundfile.__version__,
         "pandas": pandas.__version__, "pyarrow": pyarrow.__version__,
         "moto[server]": moto.__version__, "boto3": boto3.__version__}
sys.exit(found != wanted)
'

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" "${packages[@]}" 2>/dev/null; then
    echo "Python test dependencies already in $venv: ${packages[*]}"
    exit 0
fi
python="${PYTHON:-python3}"
[ -x "$venv/bin/python" ] || { echo "Creating $venv"; "$python" -m venv "$venv"; }
echo "Installing ${packages[*]} into $venv (torch is large: a few minutes the first time)"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
"$venv/bin/python" -c "$check" "${packages[@]}"
echo "Ready: $venv"
