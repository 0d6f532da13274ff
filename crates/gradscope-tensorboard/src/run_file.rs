//! A [`SummaryWriter`](crate::SummaryWriter)'s event file, with the run it
//! is recording if asked ([`record_run`](crate::SummaryWriterBuilder::record_run)):
//! the [`Run`] that loading the file back would give, kept up to date as
//! each event goes out, so a program can report what it wrote without
//! reading it back.

use std::path::Path;

use crate::error::WriteError;
use crate::logdir::{EventFile, FileStatus, Run};
use crate::proto::{event, Event};
use crate::writer::EventWriter;

/// An event file being written, and what it records.
pub(crate) struct RunFile {
    writer: EventWriter,
    record: Option<Record>,
}

/// A run being recorded, up to a number of values.
pub(crate) struct Record {
    /// `None` once the run outgrew `max_values`.
    run: Option<Run>,
    values: usize,
    max_values: usize,
}

impl Record {
    /// A record of the run called `name` that holds at most `max_values`
    /// values (scalars, histograms, texts: points of tags).
    pub(crate) fn new(name: &str, max_values: usize) -> Record {
        Record {
            run: Some(Run::new(name)),
            values: 0,
            max_values,
        }
    }
}

impl RunFile {
    pub(crate) fn new(writer: EventWriter, record: Option<Record>) -> RunFile {
        RunFile { writer, record }
    }

    pub(crate) fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Appends `event` to the file, and to the run recorded.
    pub(crate) fn write_event(&mut self, event: &Event) -> Result<(), WriteError> {
        self.writer.write_event(event)?;
        if let Some(record) = &mut self.record {
            if let Some(event::What::Summary(summary)) = &event.what {
                record.values += summary.value.len();
            }
            if record.values > record.max_values {
                record.run = None;
            } else if let Some(run) = &mut record.run {
                run.add_event(event);
            }
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), WriteError> {
        self.writer.flush()
    }

    /// Closes the file (flushed and synced) and returns the run recorded,
    /// its one file complete: `None` if none was asked for, or if it
    /// outgrew its limit.
    pub(crate) fn close(self) -> Result<Option<Run>, WriteError> {
        let RunFile { writer, record } = self;
        let file = EventFile::new(writer.path(), writer.events(), FileStatus::Complete);
        writer.close()?;
        Ok(record.and_then(|r| r.run).map(|mut run| {
            run.files.push(file);
            run
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::logdir::Logdir;
    use crate::proto::{event, Event, SessionLog};
    use crate::summary::{histogram, scalar, summary_event, text};
    use crate::SummaryWriter;

    /// Every kind of event, recorded as it was written, equals what loading
    /// the file gives; with a background thread or without.
    #[test]
    fn the_recorded_run_is_the_run_read_back() {
        for background in [None, Some(4)] {
            let logdir = tempfile::tempdir().unwrap();
            let mut builder = SummaryWriter::builder(logdir.path().join("relu"));
            builder = builder.record_run("relu", 1 << 20);
            if let Some(capacity) = background {
                builder = builder.background(capacity);
            }
            let writer = builder.build().unwrap();
            let graph = Event {
                what: Some(event::What::GraphDef(vec![1, 2, 3])),
                ..Default::default()
            };
            writer.add_event(&graph).unwrap();
            let session = Event {
                step: 4,
                what: Some(event::What::SessionLog(SessionLog::default())),
                ..Default::default()
            };
            writer.add_event(&session).unwrap();
            for step in 0..3 {
                let (hist, _) = histogram("histogram_1", &[0.5, -1.0, step as f32]);
                let values = vec![scalar("loss", step as f32 / 2.0), hist];
                writer.add_event(&summary_event(step, 1.0, values)).unwrap();
                writer
                    .add_histogram("moved", vec![1.0f32, 2.0], step)
                    .unwrap();
            }
            let note = summary_event(0, 1.0, vec![text("config", "a *table*")]);
            writer.add_event(&note).unwrap();
            // A step written twice: recorded as loading reads it.
            writer.add_scalar("loss", 9.0, 2).unwrap();
            assert_eq!(writer.take_run(), None, "nothing before close");
            writer.close().unwrap();
            let recorded = writer.take_run().unwrap();

            let loaded = Logdir::load(logdir.path()).unwrap();
            assert_eq!(loaded.runs, vec![recorded]);
            assert_eq!(loaded.runs[0].files[0].events, 11);
            assert_eq!(
                loaded.runs[0].scalars("loss"),
                [(0, 0.0), (1, 0.5), (2, 9.0)]
            );
        }
    }

    /// Past its limit the record is dropped; the file is whole.
    #[test]
    fn a_run_past_the_limit_is_not_recorded() {
        let logdir = tempfile::tempdir().unwrap();
        let limit = 1000;
        let writer = SummaryWriter::builder(logdir.path())
            .record_run(".", limit)
            .build()
            .unwrap();
        for step in 0..=limit {
            writer.add_scalar("x", 1.0, step).unwrap();
        }
        writer.close().unwrap();
        assert!(writer.take_run().is_none());
        let loaded = Logdir::load(logdir.path()).unwrap();
        assert_eq!(loaded.runs[0].files[0].events, limit + 2);
    }
}
