#!/usr/bin/env python3
"""Load a logdir with TensorBoard's own event loader and print what it sees as JSON.

This is TensorBoard's Python loading path (the one `tensorboard --load_fast=false`
serves from): the plugin event multiplexer, with TensorBoard's data_compat
migration of legacy summaries (simple_value scalars, HistogramProto histograms).
The test suite compares its output with what gradscope wrote.

Output: {"runs": {run: {tag: {"plugin": name, "points": [[step, value], ...]}}}}
where value is a float for scalars, [[left, right, count], ...] for histograms,
the string for text, and null for the rest (hparams records, the run graph:
tests/it/tensorboard_server.rs checks those through TensorBoard's HTTP API).
NaN and infinite values come as the strings "NaN", "Infinity" and "-Infinity"
(JSON has no such numbers).
"""
import json
import math
import sys

from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.util import tensor_util


def finite_or_name(value):
    """A float as it is, a non-finite one as its JSON-safe name; lists too."""
    if isinstance(value, list):
        return [finite_or_name(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def point_value(plugin, tensor_proto):
    if plugin in ("scalars", "histograms"):
        return finite_or_name(tensor_util.make_ndarray(tensor_proto).tolist())
    if plugin == "text":
        return tensor_util.make_ndarray(tensor_proto).item().decode("utf-8")
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tensorboard_load.py LOGDIR")
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        size_guidance={"tensors": 0}  # 0: keep every point, don't sample
    )
    multiplexer.AddRunsFromDirectory(sys.argv[1])
    multiplexer.Reload()
    runs = {}
    for run, content in sorted(multiplexer.Runs().items()):
        tags = {}
        for tag in content.get("tensors", []):
            plugin = multiplexer.SummaryMetadata(run, tag).plugin_data.plugin_name
            points = []
            for event in multiplexer.Tensors(run, tag):
                points.append([event.step, point_value(plugin, event.tensor_proto)])
            tags[tag] = {"plugin": plugin, "points": points}
        runs[run] = tags
    json.dump({"runs": runs}, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
