#!/usr/bin/env bash
# The benchmark of issue 5: gradscope against the same experiment in PyTorch
# + tensorboardX and in TensorFlow 2, and against its own targets. Not a test:
# it times things, so run it on a quiet machine and read the figures.
#
#   scripts/bench.sh [--reps N] [--peer-threads N] [SECTION...]
#
# Sections (default: all, in this order):
#   whole    target 1: `--scenario all` whole process (wall time, peak RSS),
#            gradscope / bench/peer_torch.py / bench/peer_tf.py alternated
#            N times; median ratios
#   step     target 2: `cargo bench --bench step`, criterion's medians
#   logging  target 3: --log-every 1 against --log-every 200, alternated
#   writer   target 4: examples/writer_rate.rs against
#            bench/tbx_writer_rate.py (tensorboardX), events per second;
#            and per call of the SummaryWriter API,
#            examples/summary_writer_rate.rs against
#            bench/tbx_summary_writer_rate.py: add_scalar, add_histogram of
#            10,000 values, add_image of 256x256 RGB (tensorboardX in
#            bench/.venv-tbx, which needs no torch)
#   rss      target 5: peak RSS on data/mnist and on full Fashion-MNIST
#   scale    target 6: time per step at --hidden 512 --layers 8 on
#            Fashion-MNIST, gradscope against the torch peer, from the
#            whole-process times of two run lengths (start-up, loading and
#            the final accuracy pass cancel out)
#   recurrent  target 7: `--scenario rnn,lstm,gru` (MNIST rows, the
#            recurrent defaults) whole process and peak RSS, against
#            bench/peer_torch_rnn.py (PyTorch + tensorboardX), alternated
#   objstore target 8: `--scenario all` at the default --log-every written
#            to a local S3 server (moto, from the venv of
#            scripts/setup-venv.sh) against to disk, alternated; one binary
#            built with --features object-store for both
#
# Options:
#   --reps N          repetitions of every timed command (default 5)
#   --peer-threads N  thread count for PyTorch and TensorFlow (default: theirs,
#                     all cores); gradscope uses its own setting
#   --scale-iters A,B the two run lengths of `scale` (default 20,220)
#   --jobs N          `whole` and `recurrent`: gradscope trains N runs at once
#                     (--jobs N; default: gradscope's own, half the cores);
#                     those runs then do not count towards target 5's RSS
#
# Needs data/mnist (scripts/fetch-data.sh) and, for rss and scale,
# data/fashion-mnist (scripts/fetch-data.sh fashion-mnist). Creates the
# peers' venvs on first use (bench/setup-venvs.sh; several GB, a few
# minutes). Every command's output is kept in a folder printed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

all_sections=(whole step logging writer rss scale recurrent objstore)
reps=5
peer_threads=0
scale_iters=20,220
jobs=""
sections=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 expects a positive integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --reps) [[ $# -ge 2 ]] || die "--reps needs a value"; positive --reps "$2"; reps=$2; shift 2 ;;
        --reps=*) positive --reps "${1#*=}"; reps=${1#*=}; shift ;;
        --peer-threads) [[ $# -ge 2 ]] || die "--peer-threads needs a value"
            positive --peer-threads "$2"; peer_threads=$2; shift 2 ;;
        --peer-threads=*) positive --peer-threads "${1#*=}"; peer_threads=${1#*=}; shift ;;
        --scale-iters) [[ $# -ge 2 ]] || die "--scale-iters needs a value"; scale_iters=$2; shift 2 ;;
        --scale-iters=*) scale_iters=${1#*=}; shift ;;
        --jobs) [[ $# -ge 2 ]] || die "--jobs needs a value"; positive --jobs "$2"; jobs=$2; shift 2 ;;
        --jobs=*) positive --jobs "${1#*=}"; jobs=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        all) sections+=("${all_sections[@]}"); shift ;;
        whole | step | logging | writer | rss | scale | recurrent | objstore) sections+=("$1"); shift ;;
        *) usage >&2; die "unknown argument '$1' (sections: all ${all_sections[*]})" ;;
    esac
done
[[ ${#sections[@]} -gt 0 ]] || sections=("${all_sections[@]}")
if ! [[ "$scale_iters" =~ ^([1-9][0-9]*),([1-9][0-9]*)$ ]] || ((BASH_REMATCH[1] >= BASH_REMATCH[2])); then
    die "--scale-iters expects two increasing iteration counts A,B (e.g. 20,220), got '$scale_iters'"
fi
scale_a=${BASH_REMATCH[1]}
scale_b=${BASH_REMATCH[2]}

wants() { [[ " ${sections[*]} " == *" $1 "* ]]; }
needs_torch() { wants whole || wants scale || wants recurrent; }
needs_tbx() { wants writer; }
needs_tf() { wants whole; }

[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found; install it (Debian: apt-get install time)"
command -v python3 >/dev/null || die "python3 not found"

# ---------------------------------------------------------------- inputs
need_data() {
    local dir="data/$1" f
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        [[ -f "$dir/$f" || -f "$dir/$f.gz" ]] ||
            die "$dir/$f (or .gz) is missing; fetch the data with: scripts/fetch-data.sh $1"
    done
}
if wants whole || wants logging || wants rss || wants recurrent || wants objstore; then need_data mnist; fi
if wants rss || wants scale; then need_data fashion-mnist; fi

venvs=()
needs_torch && venvs+=(torch)
needs_tf && venvs+=(tf)
needs_tbx && venvs+=(tbx)
[[ ${#venvs[@]} -eq 0 ]] || bench/setup-venvs.sh "${venvs[@]}"
! wants objstore || scripts/setup-venv.sh
moto_py=${GRADSCOPE_VENV:-$root/.venv}/bin/python
torch_py=$root/bench/.venv-torch/bin/python
tf_py=$root/bench/.venv-tf/bin/python
tbx_py=$root/bench/.venv-tbx/bin/python

echo "bench: building gradscope (release)"
cargo build --release --quiet
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
gradscope=$target_dir/release/gradscope
[[ -x "$gradscope" ]] || die "$gradscope was not built"

out=$(mktemp -d "${TMPDIR:-/tmp}/gradscope-bench.XXXXXX")
results=$out/results.tsv
: >"$results"
mkdir -p "$out/logs"
report() { python3 bench/report.py "$results" ${jobs:+--jobs "$jobs"} "$@"; }

# ---------------------------------------------------------------- the machine
version_of() { # VENV_PYTHON PACKAGE
    "$1" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2" 2>/dev/null || echo "?"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
mem_gib=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD 2>/dev/null || commit+=" (with uncommitted changes)"
cat <<EOF

gradscope benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')
  machine:   $(nproc) cores ($cpu), ${mem_gib} GiB memory, load average $(load)
  gradscope: commit $commit, $(rustc --version), RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-unset (the binary picks)}
  repetitions: $reps; sections: ${sections[*]}
EOF
if needs_torch; then
    echo "  torch peer: Python $("$torch_py" -c 'import platform; print(platform.python_version())'), torch $(version_of "$torch_py" torch), tensorboardX $(version_of "$torch_py" tensorboardX), numpy $(version_of "$torch_py" numpy)"
fi
if needs_tbx; then
    echo "  tensorboardX peer: Python $("$tbx_py" -c 'import platform; print(platform.python_version())'), tensorboardX $(version_of "$tbx_py" tensorboardX), numpy $(version_of "$tbx_py" numpy), Pillow $(version_of "$tbx_py" pillow)"
fi
if needs_tf; then
    echo "  tf peer:    Python $("$tf_py" -c 'import platform; print(platform.python_version())'), tensorflow-cpu $(version_of "$tf_py" tensorflow-cpu), tensorboard $(version_of "$tf_py" tensorboard), numpy $(version_of "$tf_py" numpy)"
fi
if needs_torch || needs_tf; then
    echo "  peer threads: $([[ $peer_threads -eq 0 ]] && echo "framework default" || echo "$peer_threads")"
fi
# Busy cores slow everything, and PyTorch's default (all cores, OpenMP)
# several times more than single-threaded code: say so next to the figures.
read -r load1 _ </proc/loadavg
if awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    echo "  note: load average $load1 on $(nproc) cores before starting: other work competes with"
    echo "        the timed commands, and multi-threaded peers suffer most (compare --peer-threads 1)"
fi

# ---------------------------------------------------------------- measuring
# measure SECTION LABEL REP COMMAND...: runs COMMAND with a fresh --logdir
# (a local folder, or $logdir_url when set), records wall seconds and peak
# RSS; the run folder is removed afterwards (its size is not the point, and
# reps would pile up).
measure() {
    local section=$1 label=$2 rep=$3
    shift 3
    local log="$out/logs/$section-$label-$rep.log" logdir="${logdir_url:-$out/runs/$section-$label-$rep}"
    # Wall time from the nanosecond clock: GNU time's %e has 10 ms steps, 2%
    # of gradscope's half-second runs. Both include starting /usr/bin/time.
    local start end
    start=$(date +%s%N)
    if ! /usr/bin/time -f '%M' -o "$out/time" "$@" --logdir "$logdir" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "$section: '$*' failed (full output: $log)"
    fi
    end=$(date +%s%N)
    local wall rss
    wall=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }')
    rss=$(tail -n 1 "$out/time")
    printf '%s\t%s\t%s\t%s\t%s\n' "$section" "$label" "$rep" "$wall" "$rss" >>"$results"
    printf '  %-8s rep %d/%d  %-24s %8.3f s  %6.1f MB\n' "$section" "$rep" "$reps" "$label" "$wall" \
        "$(awk -v k="$rss" 'BEGIN { print k * 1024 / 1e6 }')"
    [[ -n "${logdir_url:-}" ]] || rm -rf -- "$logdir"
}

peer_flags=(--threads "$peer_threads")
gs=("$gradscope" --no-progress)
torch_peer=("$torch_py" bench/peer_torch.py "${peer_flags[@]}")
tf_peer=("$tf_py" bench/peer_tf.py "${peer_flags[@]}")
torch_rnn_peer=("$torch_py" bench/peer_torch_rnn.py "${peer_flags[@]}")

section_header() { printf '\n== %s (load average %s)\n' "$1" "$(load)"; }

run_whole() {
    section_header "target 1: the whole experiment, --scenario all${jobs:+ --jobs $jobs} on data/mnist"
    local rep
    for ((rep = 1; rep <= reps; rep++)); do
        measure whole gradscope "$rep" "${gs[@]}" --scenario all ${jobs:+--jobs "$jobs"}
        measure whole torch "$rep" "${torch_peer[@]}" --scenario all
        measure whole tf "$rep" "${tf_peer[@]}" --scenario all
    done
    report section whole
}

criterion_dir=""
run_step() {
    section_header "target 2: one training step (cargo bench --bench step)"
    cargo bench --quiet --bench step >"$out/logs/step.log" 2>&1 ||
        { tail -n 20 "$out/logs/step.log" >&2; die "cargo bench --bench step failed (output: $out/logs/step.log)"; }
    criterion_dir=$target_dir/criterion
    report section step --criterion "$criterion_dir"
}

run_logging() {
    section_header "target 3: --log-every 1 against --log-every 200 (--scenario all, data/mnist)"
    local rep
    for ((rep = 1; rep <= reps; rep++)); do
        measure logging log-every-200 "$rep" "${gs[@]}" --log-every 200
        measure logging log-every-1 "$rep" "${gs[@]}" --log-every 1
    done
    report section logging
}

run_writer() {
    section_header "target 4: event writer rate against tensorboardX"
    local ours theirs
    cargo build --release --quiet --example writer_rate --example summary_writer_rate
    ours=$("$target_dir/release/examples/writer_rate" --repeats "$reps" | tee "$out/logs/writer-gradscope.log")
    theirs=$("$tbx_py" bench/tbx_writer_rate.py --repeats "$reps" | tee "$out/logs/writer-tensorboardX.log")
    record_writer_rates "$ours" "$theirs" scalar_events_per_s histogram_events_per_s
    ours=$("$target_dir/release/examples/summary_writer_rate" --repeats "$reps" | tee "$out/logs/api-gradscope.log")
    theirs=$("$tbx_py" bench/tbx_summary_writer_rate.py --repeats "$reps" | tee "$out/logs/api-tensorboardX.log")
    record_writer_rates "$ours" "$theirs" api_scalar_calls_per_s api_histogram_calls_per_s api_image_calls_per_s
    report section writer
}

# record_writer_rates OURS THEIRS KEY...: checks that both programs logged
# the same values, then records each KEY=rate line of both as a row
# writer/<who>-<kind>, kind being KEY less its _events_per_s/_calls_per_s.
record_writer_rates() {
    local ours=$1 theirs=$2
    shift 2
    local sum_ours sum_theirs
    sum_ours=$(sed -n 's/.*checksum //p' <<<"$ours")
    sum_theirs=$(sed -n 's/.*checksum //p' <<<"$theirs")
    [[ -n "$sum_ours" && "$sum_ours" == "$sum_theirs" ]] ||
        die "writer: the two programs logged different values (checksums '$sum_ours' and '$sum_theirs')"
    local who text key kind rate
    for who in gradscope tensorboardX; do
        text=$([[ $who == gradscope ]] && echo "$ours" || echo "$theirs")
        for key in "$@"; do
            kind=${key%_events_per_s}
            kind=${kind%_calls_per_s}
            rate=$(sed -n "s/^${key}=//p" <<<"$text")
            [[ -n "$rate" ]] || die "writer: no ${key} in $who's output"
            printf 'writer\t%s-%s\t1\t%s\t0\n' "$who" "$kind" "$rate" >>"$results"
        done
    done
}

run_rss() {
    section_header "target 5: peak RSS, --scenario all"
    local rep
    for ((rep = 1; rep <= reps; rep++)); do
        measure rss mnist "$rep" "${gs[@]}" --dataset mnist
        measure rss fashion-mnist "$rep" "${gs[@]}" --dataset fashion-mnist
    done
    report section rss
}

run_scale() {
    section_header "target 6: --hidden 512 --layers 8 on Fashion-MNIST, relu, $scale_a and $scale_b iterations"
    local rep n
    # --log-every past the run: only step 0 is logged, in both.
    local shape=(--dataset fashion-mnist --hidden 512 --layers 8 --scenario relu --log-every 1000000)
    for ((rep = 1; rep <= reps; rep++)); do
        for n in "$scale_a" "$scale_b"; do
            measure scale "gradscope@$n" "$rep" "${gs[@]}" "${shape[@]}" --iterations "$n"
            measure scale "torch@$n" "$rep" "${torch_peer[@]}" "${shape[@]}" --iterations "$n"
        done
    done
    report section scale
}

run_recurrent() {
    section_header "target 7: --scenario rnn,lstm,gru${jobs:+ --jobs $jobs} (rows) on data/mnist, whole process"
    local rep
    for ((rep = 1; rep <= reps; rep++)); do
        measure recurrent gradscope "$rep" "${gs[@]}" --scenario rnn,lstm,gru ${jobs:+--jobs "$jobs"}
        measure recurrent torch "$rep" "${torch_rnn_peer[@]}" --scenario rnn,lstm,gru
    done
    report section recurrent
}

run_objstore() {
    section_header "target 8: --scenario all into a local S3 server (moto) against to disk, data/mnist"
    echo "  building gradscope with --features object-store"
    cargo build --release --quiet --features object-store
    local binary=$out/gradscope-object-store
    cp "$gradscope" "$binary"
    cargo build --release --quiet # the default binary again, for the other sections
    local port
    port=$("$moto_py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$moto_py" -m moto.server -H 127.0.0.1 -p "$port" >"$out/logs/moto.log" 2>&1 &
    local moto=$!
    trap 'kill '"$moto"' 2>/dev/null' EXIT
    local endpoint=http://127.0.0.1:$port
    "$moto_py" -c '
import sys, time, boto3
for _ in range(300):
    try:
        boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                     aws_access_key_id="bench", aws_secret_access_key="bench").create_bucket(Bucket="bench")
        break
    except Exception as e:
        error = e
        time.sleep(0.1)
else:
    sys.exit(f"moto did not start at {sys.argv[1]}: {error}")' "$endpoint"
    local s3_env=(env AWS_ENDPOINT_URL="$endpoint" AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=bench
        AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1)
    local rep
    for ((rep = 1; rep <= reps; rep++)); do
        measure objstore disk "$rep" "$binary" --no-progress --scenario all
        logdir_url=s3://bench/objstore-$rep measure objstore s3 "$rep" \
            "${s3_env[@]}" "$binary" --no-progress --scenario all
    done
    kill "$moto" 2>/dev/null || true
    trap - EXIT
    report section objstore
}

for section in "${sections[@]}"; do
    "run_$section"
done

printf '\n== targets (issues 5, 14 and 24)\n'
if [[ -n "$criterion_dir" ]]; then
    report summary --criterion "$criterion_dir"
else
    report summary
fi
printf '\nload average at the end: %s\nevery command'"'"'s output: %s/logs\n' "$(load)" "$out"
