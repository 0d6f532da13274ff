#!/usr/bin/env bash
# Creates .venv (in the repository root) with TensorBoard from PyPI, for the
# compatibility tests and for `tensorboard --logdir logs`. Idempotent.
#   scripts/setup-venv.sh            # or GRADSCOPE_VENV=/some/dir scripts/setup-venv.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GRADSCOPE_VENV:-$root/.venv}"
# Pinned so a TensorBoard release cannot change what the tests check overnight.
tensorboard_version="2.21.0"

if [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c "import tensorboard, sys; sys.exit(tensorboard.__version__ != '$tensorboard_version')" 2>/dev/null; then
    echo "TensorBoard $tensorboard_version already in $venv"
    exit 0
fi
python="${PYTHON:-python3}"
echo "Creating $venv with tensorboard==$tensorboard_version"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "tensorboard==$tensorboard_version"
"$venv/bin/python" -c "import tensorboard; print('TensorBoard', tensorboard.__version__, 'ready in $venv')"
