#!/usr/bin/env python3
"""Turns scripts/bench.sh's measurements into tables, medians, ratios and
PASS/FAIL against issue 5's targets (1-6), issue 14's (7) and issue 24's (8). Standard library only (it runs on the
system python3, outside the venvs).

bench.sh appends one line per measurement to a TSV file:

    section  label  rep  value  peak_rss_kb

where value is whole-process seconds, except in `writer` (events per second)
and `scale` (labels `<command>@<iterations>`). The step bench's medians are
read from criterion's own files instead.

    report.py RESULTS.tsv section whole|logging|rss|scale|writer|recurrent|objstore
    report.py RESULTS.tsv section step --criterion DIR
    report.py RESULTS.tsv summary [--criterion DIR]   # every target measured
"""
import argparse
import json
import os
import statistics
import sys
from collections import defaultdict

# Issue 5's targets: (number in the issue, what, comparison, bound, unit).
TARGETS = {
    "whole_torch": (1, "whole process, torch / gradscope", ">=", 15.0, "x"),
    "whole_tf": (1, "whole process, tf / gradscope", ">=", 10.0, "x"),
    "step": (2, "median training step, default network, batch 30", "<=", 150.0, "us"),
    "logging": (3, "--log-every 1 / --log-every 200 wall time", "<=", 1.10, "x"),
    "writer_scalar": (4, "writer rate, scalars, gradscope / tensorboardX", ">=", 10.0, "x"),
    "writer_histogram": (4, "writer rate, 7,840-value histograms, gradscope / tensorboardX",
                         ">=", 10.0, "x"),
    "writer_api_scalar": (4, "add_scalar calls, gradscope / tensorboardX", ">=", 50.0, "x"),
    "writer_api_histogram": (4, "add_histogram calls, 10,000 values, gradscope / tensorboardX",
                             ">=", 50.0, "x"),
    "rss_mnist": (5, "peak RSS, data/mnist (largest of the default runs)", "<=", 80.0, "MB"),
    "rss_fashion": (5, "peak RSS, full Fashion-MNIST (largest of the runs)", "<=", 150.0, "MB"),
    "scale": (6, "time per step at --hidden 512 --layers 8, gradscope / torch", "<=", 1.5, "x"),
    # Issue 14: `--scenario rnn,lstm,gru` (rows) against bench/peer_torch_rnn.py.
    "recurrent": (7, "whole process, rnn,lstm,gru rows, torch / gradscope", ">=", 3.0, "x"),
    "recurrent_rss": (7, "peak RSS, rnn,lstm,gru rows, torch / gradscope", ">=", 2.0, "x"),
    # Issue 24: `--scenario all` at the default --log-every into a local S3
    # server (moto) against to disk, the same binary.
    "objstore": (8, "--scenario all into local S3 (moto) / to disk, wall time", "<=", 1.2, "x"),
}

STEP_BENCHES = ("sigmoid", "relu", "leaky_relu")

# bench.sh's --jobs (set by main): gradscope trained that many runs at once.
JOBS = None


def load(path):
    """{section: {label: [(rep, value, rss_kb)]}}"""
    rows = defaultdict(lambda: defaultdict(list))
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            section, label, rep, value, rss = line.rstrip("\n").split("\t")
            rows[section][label].append((int(rep), float(value), int(rss)))
    return rows


def by_rep(samples):
    return {rep: value for rep, value, _ in samples}


def mb(kb):
    """KiB (what /usr/bin/time's %M reports) to MB of 10^6 bytes."""
    return kb * 1024 / 1e6


def verdict(key, value):
    _, _, op, bound, _ = TARGETS[key]
    ok = value >= bound if op == ">=" else value <= bound
    return "PASS" if ok else "FAIL"


def shown(value, unit):
    """A measured value as the tables print it: ratios near a bound such as
    1.1 with three decimals, so that 1.098 and 1.104 do not both read 1.1."""
    if unit != "x":
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 10 else f"{value:.3g}"


def target_line(key, value):
    number, what, op, bound, unit = TARGETS[key]
    shown_value = shown(value, unit)
    return (f"  target {number}: {what}: {shown_value} {unit} "
            f"(target {op} {bound:g} {unit}) {verdict(key, value)}")


def paired_ratios(numerator, denominator):
    """numerator/denominator within each repetition (the commands of a
    repetition ran back to back, under the same machine load)."""
    n, d = by_rep(numerator), by_rep(denominator)
    return [n[r] / d[r] for r in sorted(n) if r in d and d[r] > 0]


def spread(values):
    return f"{min(values):.3f}-{max(values):.3f}" if len(values) > 1 else "-"


def time_table(samples_by_label, labels):
    print(f"  {'command':<28} {'runs':>4} {'median s':>9} {'range s':>15} {'median RSS MB':>14}")
    for label in labels:
        samples = samples_by_label.get(label, [])
        if not samples:
            continue
        times = [v for _, v, _ in samples]
        rss = [mb(k) for _, _, k in samples]
        print(f"  {label:<28} {len(times):>4} {statistics.median(times):>9.3f} "
              f"{spread(times):>15} {statistics.median(rss):>14.1f}")


# Each returns {target key: measured value} for the summary.

def whole(rows):
    s = rows["whole"]
    time_table(s, ["gradscope", "torch", "tf"])
    results = {}
    for peer, key in (("torch", "whole_torch"), ("tf", "whole_tf")):
        ratios = paired_ratios(s.get(peer, []), s.get("gradscope", []))
        if ratios:
            results[key] = statistics.median(ratios)
            print(f"  {peer}/gradscope per repetition: "
                  + ", ".join(f"{r:.1f}" for r in ratios))
            print(target_line(key, results[key]))
    return results


def recurrent(rows):
    s = rows["recurrent"]
    time_table(s, ["gradscope", "torch"])
    ratios = paired_ratios(s.get("torch", []), s.get("gradscope", []))
    if not ratios:
        return {}
    print("  torch/gradscope per repetition: " + ", ".join(f"{r:.2f}" for r in ratios))
    peak = {who: max(mb(k) for _, _, k in s[who]) for who in ("gradscope", "torch")}
    results = {"recurrent": statistics.median(ratios),
               "recurrent_rss": peak["torch"] / peak["gradscope"]}
    for key, value in results.items():
        print(target_line(key, value))
    return results


def logging(rows):
    s = rows["logging"]
    time_table(s, ["log-every-200", "log-every-1"])
    ratios = paired_ratios(s.get("log-every-1", []), s.get("log-every-200", []))
    if not ratios:
        return {}
    print("  every 1 / every 200 per repetition: " + ", ".join(f"{r:.3f}" for r in ratios))
    value = statistics.median(ratios)
    print(target_line("logging", value))
    return {"logging": value}


def objstore(rows):
    s = rows["objstore"]
    time_table(s, ["disk", "s3"])
    ratios = paired_ratios(s.get("s3", []), s.get("disk", []))
    if not ratios:
        return {}
    print("  s3 / disk per repetition: " + ", ".join(f"{r:.3f}" for r in ratios))
    value = statistics.median(ratios)
    print(target_line("objstore", value))
    return {"objstore": value}


# Runs of `gradscope --scenario all` at its defaults on data/mnist, whichever
# section made them: all count towards target 5's mnist figure.
DEFAULT_MNIST_RUNS = (("rss", "mnist"), ("whole", "gradscope"), ("logging", "log-every-200"))


def rss(rows):
    s = rows["rss"]
    time_table(s, ["mnist", "fashion-mnist"])
    results = {}
    # With --jobs, `whole` trained several runs at once: not a default run.
    default_runs = [r for r in DEFAULT_MNIST_RUNS if not (JOBS and r[0] == "whole")]
    mnist = [(section, k) for section, label in default_runs
             for _, _, k in rows.get(section, {}).get(label, [])]
    if mnist:
        results["rss_mnist"] = max(mb(k) for _, k in mnist)
        sections = sorted({section for section, _ in mnist})
        print(target_line("rss_mnist", results["rss_mnist"])
              + f"  ({len(mnist)} runs: {', '.join(sections)})")
    if s.get("fashion-mnist"):
        results["rss_fashion"] = max(mb(k) for _, _, k in s["fashion-mnist"])
        print(target_line("rss_fashion", results["rss_fashion"]))
    return results


def scale(rows):
    s = rows["scale"]
    labels = sorted(s, key=lambda l: (l.split("@")[0] != "gradscope", l.split("@")[0],
                                      int(l.split("@")[1])))
    time_table(s, labels)
    per_step = {}
    for command in ("gradscope", "torch"):
        counts = sorted({int(l.split("@")[1]) for l in s if l.startswith(command + "@")})
        if len(counts) != 2:
            continue
        a, b = counts
        steps = paired_ratios_diff(s[f"{command}@{b}"], s[f"{command}@{a}"], b - a)
        if steps:
            per_step[command] = steps
            print(f"  {command}: ({b} - {a} iterations) per step, ms: "
                  + ", ".join(f"{1000 * t:.2f}" for t in steps)
                  + f"; median {1000 * statistics.median(steps):.2f} ms")
    if len(per_step) < 2:
        return {}
    value = statistics.median(per_step["gradscope"]) / statistics.median(per_step["torch"])
    print(target_line("scale", value))
    return {"scale": value}


def paired_ratios_diff(longer, shorter, steps):
    """Seconds per step from each repetition's two run lengths: start-up,
    data loading and the final accuracy pass cancel out."""
    l, s = by_rep(longer), by_rep(shorter)
    return [(l[r] - s[r]) / steps for r in sorted(l) if r in s]


def writer(rows):
    s = rows["writer"]
    results = {}
    print(f"  {'events':<34} {'gradscope /s':>14} {'tensorboardX /s':>16} {'ratio':>7}")
    for kind, key, what in (("scalar", "writer_scalar", "scalar"),
                            ("histogram", "writer_histogram", "histogram of 7,840 values"),
                            ("api_scalar", "writer_api_scalar", "add_scalar call"),
                            ("api_histogram", "writer_api_histogram",
                             "add_histogram call, 10,000 values"),
                            ("api_image", None, "add_image call, 256x256 RGB")):
        ours, theirs = s.get(f"gradscope-{kind}"), s.get(f"tensorboardX-{kind}")
        if not ours or not theirs:
            continue
        o, t = ours[0][1], theirs[0][1]
        if key:  # add_image has no target: its ratio is reported alone
            results[key] = o / t
        print(f"  {what:<34} {o:>14.0f} {t:>16.0f} {o / t:>7.1f}")
    for key, value in results.items():
        print(target_line(key, value))
    return results


def step(criterion_dir):
    """Medians of `cargo bench --bench step`, from criterion's estimates."""
    if not criterion_dir:
        return {}
    medians = {}
    for name in STEP_BENCHES:
        path = os.path.join(criterion_dir, "step", name, "new", "estimates.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            estimates = json.load(f)
        m = estimates["median"]
        ci = m["confidence_interval"]
        medians[name] = m["point_estimate"] / 1000
        print(f"  step/{name:<11} median {medians[name]:7.1f} us "
              f"(95% CI {ci['lower_bound'] / 1000:.1f}-{ci['upper_bound'] / 1000:.1f} us)")
    if not medians:
        return {}
    worst = max(medians.values())
    print(target_line("step", worst) + "  (the slowest scenario)")
    return {"step": worst}


SECTIONS = {"whole": whole, "logging": logging, "rss": rss, "scale": scale, "writer": writer,
            "recurrent": recurrent, "objstore": objstore}


def run_section(name, rows, criterion_dir):
    if name == "step":
        return step(criterion_dir)
    return SECTIONS[name](rows)


def summary(rows, criterion_dir):
    results = {}
    for name in ("whole", "step", "logging", "writer", "rss", "scale", "recurrent", "objstore"):
        if name in ("step", "rss") or rows.get(name):
            with open(os.devnull, "w") as quiet:
                stdout, sys.stdout = sys.stdout, quiet
                try:
                    results.update(run_section(name, rows, criterion_dir))
                finally:
                    sys.stdout = stdout
    print(f"  {'#':<2} {'target':<64} {'measured':>10} {'bound':>9}  verdict")
    for key, (number, what, op, bound, unit) in TARGETS.items():
        if key not in results:
            print(f"  {number:<2} {what:<64} {'-':>10} {op + ' ' + f'{bound:g}':>9}  not run")
            continue
        v = results[key]
        value = f"{shown(v, unit)} {unit}"
        print(f"  {number:<2} {what:<64} {value:>10} {op + ' ' + f'{bound:g}':>9}  "
              f"{verdict(key, v)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("what", choices=("section", "summary"))
    p.add_argument("section", nargs="?", choices=sorted(list(SECTIONS) + ["step"]))
    p.add_argument("--criterion", help="criterion's output folder (<target>/criterion)")
    p.add_argument("--jobs", type=int, help="bench.sh's --jobs, if given")
    args = p.parse_args()
    global JOBS
    JOBS = args.jobs
    rows = load(args.results)
    if args.what == "summary":
        summary(rows, args.criterion)
    elif args.section is None:
        p.error("section: which one?")
    else:
        run_section(args.section, rows, args.criterion)


if __name__ == "__main__":
    main()
