#!/usr/bin/env bash
# Creates the Python environments the peer scripts run in, outside git
# (bench/.venv-torch, bench/.venv-tf, bench/.venv-tbx; all git-ignored). Idempotent: a venv
# that already holds the pinned versions is left alone.
#
#   bench/setup-venvs.sh [torch|tf|tbx]...  # default: torch and tf
#
# Pinned so a release cannot move the baseline between two benchmark runs:
#   torch:  PyTorch 2.15.0 + tensorboardX 2.6.5 (+ numpy for the IDX parser,
#           Pillow for the recurrent peer's profile image)
#   tf:     tensorflow-cpu 2.21.0 (the newest release for Python 3.11 when
#           this was written; it brings its own numpy) + tensorboard 2.21.0,
#           which tf.summary's scalar and histogram ops live in (TensorFlow
#           2.21 no longer installs it)
#   tbx:    tensorboardX 2.6.5 + numpy + Pillow 13.0.0 (its add_image's PNG
#           encoder), without torch: the writer comparison (a few MB)
# PyPI's Linux torch wheel is the CUDA build (several GB with its nvidia-*
# dependencies); on a machine without a GPU it runs on the CPU like the
# CPU-only build.
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"

torch_packages=(torch==2.15.0 tensorboardX==2.6.5 numpy pillow==13.0.0)
tf_packages=(tensorflow-cpu==2.21.0 tensorboard==2.21.0)
tbx_packages=(tensorboardX==2.6.5 numpy pillow==13.0.0)

# Exits 0 when the venv's python imports the packages at the pinned versions.
check='
import importlib.metadata as md, sys
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    have = md.version(name)
    if want and have.split("+")[0] != want:
        sys.exit(f"{name} {have}, want {want}")
'

setup() {
    local venv="$1"
    shift
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" "$@" 2>/dev/null; then
        echo "bench: $venv already has $*"
        return
    fi
    [ -x "$venv/bin/python" ] || { echo "bench: creating $venv"; "$python" -m venv "$venv"; }
    echo "bench: installing $* into $venv (a few minutes the first time)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    "$venv/bin/python" -c "$check" "$@"
}

which=("$@")
[ ${#which[@]} -gt 0 ] || which=(torch tf)
for w in "${which[@]}"; do
    case "$w" in
        torch) setup "$bench/.venv-torch" "${torch_packages[@]}" ;;
        tf) setup "$bench/.venv-tf" "${tf_packages[@]}" ;;
        tbx) setup "$bench/.venv-tbx" "${tbx_packages[@]}" ;;
        *) echo "usage: bench/setup-venvs.sh [torch|tf|tbx]..." >&2; exit 2 ;;
    esac
done
