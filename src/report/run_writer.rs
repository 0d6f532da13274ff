//! An event file being written, and the [`Run`] that loading it back would
//! give, kept up to date as each event goes out.
//!
//! REPORT.md describes every run of the logdir. The runs this process has
//! just trained need not be read back for it: at `--log-every 1` they hold
//! about 150 MB of histograms, and reading them took longer than the report
//! itself. [`crate::report::logdir::Logdir::load_dir_with`] takes these runs
//! as they are, and reads the rest of the logdir from disk.

use std::path::Path;

use crate::proto::{Event, EventView};
use crate::report::logdir::{EventFile, FileStatus, Run};
use crate::summary::writer::WriteError;
use crate::summary::EventWriter;

/// Writes one run's new event file and records what it holds.
pub struct RunWriter {
    writer: EventWriter,
    run: Run,
}

impl RunWriter {
    /// Creates a new event file in `dir` for the run called `name` (its
    /// folder relative to the logdir, as [`Run::name`]).
    pub fn create(dir: &Path, name: &str) -> Result<RunWriter, WriteError> {
        Ok(RunWriter {
            writer: EventWriter::create(dir)?,
            run: Run::new(name),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Appends `event` to the file and to the run.
    pub fn write_event(&mut self, event: &Event) -> Result<(), WriteError> {
        self.writer.write_event(event)?;
        self.run.add_event(EventView::from(event));
        Ok(())
    }

    /// Closes the file (flushed and synced, see [`EventWriter::close`]) and
    /// returns the run, its one file complete.
    pub fn close(self) -> Result<Run, WriteError> {
        let RunWriter { writer, mut run } = self;
        let file = EventFile {
            path: writer.path().to_path_buf(),
            events: writer.events(),
            status: FileStatus::Complete,
        };
        writer.close()?;
        run.files.push(file);
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{event, SessionLog};
    use crate::report::logdir::Logdir;
    use crate::summary::builders::{histogram, scalar, summary_event};
    use crate::summary::text::text;

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
        let recorded = writer.close().unwrap();

        let loaded = Logdir::load(logdir.path()).unwrap();
        assert_eq!(loaded.runs, vec![recorded]);
        assert_eq!(loaded.runs[0].files[0].events, 8);
        assert_eq!(
            loaded.runs[0].scalars("loss"),
            [(0, 0.0), (1, 0.5), (2, 9.0)]
        );
    }
}
