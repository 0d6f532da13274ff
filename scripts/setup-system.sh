#!/usr/bin/env bash
# The system packages the tests need, installed from Debian's archive when
# missing: GNU parallel (the test that runs a sweep as shards through it;
# moreutils also ships a `parallel`, which is not it). Needs root or
# password-less sudo to install; without either it stops at once with the
# command to run, rather than letting a test fail half an hour later.
#   scripts/setup-system.sh
set -euo pipefail

missing=()
parallel --version 2>/dev/null | grep -q 'GNU parallel' || missing+=(parallel)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

install="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}"
if ! command -v apt-get >/dev/null; then
    echo "setup-system: the tests need ${missing[*]} (GNU parallel), and this machine has no apt-get;" \
         "install it with your package manager, then rerun scripts/test.sh" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    run=(bash -c "$install")
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    run=(sudo -n bash -c "$install")
else
    echo "setup-system: the tests need ${missing[*]}; run this once, then rerun scripts/test.sh:" >&2
    echo "    sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "setup-system: installing Debian's ${missing[*]} (apt-get install ${missing[*]})"
# apt's chatter only when it fails.
if ! log=$("${run[@]}" 2>&1); then
    printf '%s\n' "$log" >&2
    echo "setup-system: apt-get install ${missing[*]} failed (above); install it, then rerun scripts/test.sh" >&2
    exit 1
fi
parallel --version 2>/dev/null | grep -q 'GNU parallel' || {
    echo "setup-system: apt-get installed ${missing[*]}, but \`parallel --version\` is not GNU parallel;" \
         "remove moreutils' parallel or put GNU parallel first on PATH" >&2
    exit 1
}
