//! [`SummaryWriterBuilder::purge_step`] through TensorBoard's own loader
//! (its Python event multiplexer, what `tensorboard --load_fast=false`
//! serves) and this crate's reader: a run written to step 9, then resumed
//! in a second file purging from step 5, shows steps 0-4 of the first file
//! and 5-11 of the second, each once; the first file's session end (at
//! step 8) is gone with them.
//!
//! Needs Python with TensorBoard: `GRADSCOPE_PYTHON`, else the
//! repository's `.venv`; without either the TensorBoard half is skipped
//! with a message.
//!
//! [`SummaryWriterBuilder::purge_step`]: gradscope_tensorboard::SummaryWriterBuilder::purge_step

use std::ffi::OsStr;

use gradscope_tensorboard::hparams::session_end;
use gradscope_tensorboard::logdir::Logdir;
use gradscope_tensorboard::proto::hparams::Status;
use gradscope_tensorboard::summary::summary_event;
use gradscope_tensorboard::SummaryWriter;

use crate::helpers::{run_python, tensorboard_python};

/// Every scalar point of the run `run` as TensorBoard's multiplexer loads
/// `logdir`: `tag step value` lines, in the order it keeps them.
const LOAD: &str = r#"
import sys
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.util import tensor_util
m = plugin_event_multiplexer.EventMultiplexer(size_guidance={"tensors": 0})
m.AddRunsFromDirectory(sys.argv[1])
m.Reload()
for tag in sorted(m.Runs()["."]["tensors"]):
    for e in m.Tensors(".", tag):
        value = tensor_util.make_ndarray(e.tensor_proto)
        print(tag, e.step, value.item() if value.size == 1 else "-")
"#;

#[test]
fn points_past_the_purge_step_are_gone_for_tensorboard_and_our_reader() {
    let dir = tempfile::tempdir().unwrap();
    // The first session: steps 0-9, and a failed session end at step 8 (as
    // a run stopped by a signal writes at the iteration it stopped at).
    let first = SummaryWriter::new(dir.path()).unwrap();
    for step in 0..10 {
        first.add_scalar("loss", 1.0, step).unwrap();
    }
    let end = session_end(Status::Failure, 1.0);
    first.add_event(&summary_event(8, 1.0, vec![end])).unwrap();
    first.close().unwrap();
    // Resumed from step 5: the second session's values are 2.0.
    let resumed = SummaryWriter::builder(dir.path())
        .purge_step(5)
        .build()
        .unwrap();
    for step in 5..12 {
        resumed.add_scalar("loss", 2.0, step).unwrap();
    }
    resumed.close().unwrap();

    let expected: Vec<(i64, f64)> = (0..12)
        .map(|s| (s, if s < 5 { 1.0 } else { 2.0 }))
        .collect();
    let loaded = Logdir::load(dir.path()).unwrap();
    let run = &loaded.runs[0];
    assert_eq!(run.scalars("loss"), expected, "our reader");
    assert_eq!(run.tags["loss"].points.len(), 12, "each step once");
    assert_eq!(
        run.session_end, None,
        "the purged session end no longer counts"
    );

    let Some(python) = tensorboard_python() else {
        return; // tensorboard_python() said why
    };
    let out = run_python(
        &python,
        [OsStr::new("-c"), OsStr::new(LOAD), dir.path().as_os_str()],
    );
    let text = String::from_utf8(out).unwrap();
    let loss: Vec<(i64, f64)> = (text.lines())
        .filter_map(|l| l.strip_prefix("loss "))
        .map(|l| {
            let (step, value) = l.split_once(' ').unwrap();
            (step.parse().unwrap(), value.parse().unwrap())
        })
        .collect();
    assert_eq!(loss, expected, "TensorBoard's loader");
    assert!(
        !text.contains("_hparams_/session_end_info"),
        "the session end at step 8 is purged: {text}"
    );
}
