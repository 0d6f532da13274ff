//! An event file being written, and the [`Run`] that loading it back would
//! give, kept up to date as each event goes out.
//!
//! REPORT.md describes every run of the logdir. The runs this process has
//! just trained need not be read back for it: at `--log-every 1` they hold
//! about 150 MB of histograms, and reading them took longer than the report
//! itself. [`Logdir::load_dir_with`] takes these runs as they are, and
//! reads the rest of the logdir from disk.
//!
//! The record is bounded: a run that logs more than [`MAX_POINTS`] values
//! (a long run at `--log-every 1`) stops recording, and the report reads
//! that one back from its file, so memory does not grow with the run.

use std::path::Path;

#[cfg(doc)]
use gradscope_tensorboard::logdir::Logdir;
use gradscope_tensorboard::logdir::{EventFile, FileStatus, Run};
use gradscope_tensorboard::proto::{event, Event};
use gradscope_tensorboard::EventWriter;
use gradscope_tensorboard::WriteError;

/// The most values (scalars, histograms, texts: points of tags) a run's
/// record holds, about 16 MB; the default experiment at `--log-every 1`
/// logs 150,000 a run.
pub const MAX_POINTS: usize = 1 << 20;

/// Writes one run's new event file and records what it holds.
pub struct RunWriter {
    writer: EventWriter,
    /// `None` once the run has logged more than [`MAX_POINTS`] values.
    run: Option<Run>,
    points: usize,
}

impl RunWriter {
    /// Creates a new event file in `dir` for the run called `name` (its
    /// folder relative to the logdir, as [`Run::name`]).
    pub fn create(dir: &Path, name: &str) -> Result<RunWriter, WriteError> {
        Ok(RunWriter {
            writer: EventWriter::create(dir)?,
            run: Some(Run::new(name)),
            points: 0,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Appends `event` to the file and to the run.
    pub fn write_event(&mut self, event: &Event) -> Result<(), WriteError> {
        self.writer.write_event(event)?;
        if let Some(run) = &mut self.run {
            if let Some(event::What::Summary(summary)) = &event.what {
                self.points += summary.value.len();
            }
            if self.points > MAX_POINTS {
                self.run = None;
            } else {
                run.add_event(event);
            }
        }
        Ok(())
    }

    /// Closes the file (flushed and synced, see [`EventWriter::close`]) and
    /// returns the run, its one file complete; `None` if it logged more
    /// than [`MAX_POINTS`] values.
    pub fn close(self) -> Result<Option<Run>, WriteError> {
        let RunWriter { writer, run, .. } = self;
        let file = EventFile::new(writer.path(), writer.events(), FileStatus::Complete);
        writer.close()?;
        Ok(run.map(|mut run| {
            run.files.push(file);
            run
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradscope_tensorboard::logdir::Logdir;
    use gradscope_tensorboard::proto::{event, SessionLog};
    use gradscope_tensorboard::summary::{histogram, scalar, summary_event, text};

    /// Every kind of event gradscope writes, recorded as it was written,
    /// equals what loading the file gives.
    #[test]
    fn the_recorded_run_is_the_run_read_back() {
        let logdir = tempfile::tempdir().unwrap();
        let mut writer = RunWriter::create(&logdir.path().join("relu"), "relu").unwrap();
        let graph = Event {
            what: Some(event::What::GraphDef(vec![1, 2, 3])),
            ..Default::default()
        };
        writer.write_event(&graph).unwrap();
        let session = Event {
            step: 4,
            what: Some(event::What::SessionLog(SessionLog::default())),
            ..Default::default()
        };
        writer.write_event(&session).unwrap();
        for step in 0..3 {
            let (hist, _) = histogram("histogram_1", &[0.5, -1.0, step as f32]);
            let values = vec![scalar("loss", step as f32 / 2.0), hist];
            writer
                .write_event(&summary_event(step, 1.0, values))
                .unwrap();
        }
        let note = summary_event(0, 1.0, vec![text("config", "a *table*")]);
        writer.write_event(&note).unwrap();
        // A step written twice: both points are kept, as in the file.
        let again = summary_event(2, 2.0, vec![scalar("loss", 9.0)]);
        writer.write_event(&again).unwrap();
        let recorded = writer.close().unwrap().unwrap();

        let loaded = Logdir::load(logdir.path()).unwrap();
        assert_eq!(loaded.runs, vec![recorded]);
        assert_eq!(loaded.runs[0].files[0].events, 8);
        assert_eq!(
            loaded.runs[0].scalars("loss"),
            [(0, 0.0), (1, 0.5), (2, 9.0)]
        );
    }

    /// Past [`MAX_POINTS`] values the record is dropped; the file is whole.
    #[test]
    fn a_run_past_the_limit_is_not_recorded() {
        let logdir = tempfile::tempdir().unwrap();
        let mut writer = RunWriter::create(logdir.path(), ".").unwrap();
        let per_event = 1000;
        let values: Vec<_> = (0..per_event)
            .map(|i| scalar(&format!("x{i}"), 1.0))
            .collect();
        let events = (MAX_POINTS / per_event) as i64;
        for step in 0..events {
            writer
                .write_event(&summary_event(step, 1.0, values.clone()))
                .unwrap();
        }
        assert!(writer.run.is_some(), "recorded up to the limit");
        writer
            .write_event(&summary_event(events, 1.0, values))
            .unwrap();
        assert!(writer.close().unwrap().is_none());
        let loaded = Logdir::load(logdir.path()).unwrap();
        assert_eq!(loaded.runs[0].files[0].events as i64, events + 2);
    }
}
