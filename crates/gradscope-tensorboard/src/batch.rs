//! [`Batch`]: several values of one step, written as one event.

use std::ops::Range;

use crate::error::{check_tag, SummaryError};
use crate::input::{HistogramValues, OwnedValues, ScalarValue};
use crate::proto::summary;

/// Several values of one step (scalars, histograms, or values built with
/// [`crate::summary`]), which [`SummaryWriter::add_batch`](crate::SummaryWriter::add_batch)
/// writes as one event. A training loop that logs a dozen values a step
/// makes one call instead of a dozen: with a
/// [background](crate::SummaryWriterBuilder::background) writer, one queue
/// entry, and the histograms are bucketed on the writer's thread, a `Vec`
/// moved there without a copy.
///
/// A bad tag is kept and returned by `add_batch`, so the calls chain.
///
/// ```
/// use gradscope_tensorboard::{Batch, SummaryWriter};
///
/// let dir = tempfile::tempdir()?;
/// let writer = SummaryWriter::builder(dir.path()).background(16).build()?;
/// for step in 0..3 {
///     let weights = vec![0.5f32, -0.25, step as f32];
///     let mut batch = Batch::new();
///     batch.scalar("loss", 1.0 / (step as f64 + 1.0)).histogram("weights", weights);
///     writer.add_batch(batch, step)?;
/// }
/// writer.close()?;
/// let read = gradscope_tensorboard::read_events(writer.file_path())?;
/// assert_eq!(read.events.len(), 4); // the file version, then one a step
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Batch {
    /// Every tag, one after the other: one growing `String` for the step's
    /// tags rather than one per value, each value keeping its tag's range.
    tags: String,
    /// Scalars and values built beforehand, in the order added. A scalar
    /// becomes a summary value on the thread that writes it.
    values: Vec<Entry>,
    /// Histograms to bucket, each with its tag's range in `tags`.
    histograms: Vec<(Range<usize>, OwnedValues)>,
    /// NaN and infinite values the histograms will leave out.
    left_out: usize,
    /// The first bad argument.
    error: Option<SummaryError>,
}

/// A scalar or a value of a [`Batch`].
#[derive(Debug)]
enum Entry {
    Scalar {
        tag: Range<usize>,
        value: f32,
    },
    /// Boxed: a summary value is some hundred bytes, a scalar sixteen.
    Value(Box<summary::Value>),
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a point to the scalar chart `tag`, as
    /// [`add_scalar`](crate::SummaryWriter::add_scalar) does.
    pub fn scalar(&mut self, tag: &str, value: impl ScalarValue) -> &mut Batch {
        if self.checked(tag) {
            let tag = self.tag(tag);
            let value = value.to_f32();
            self.values.push(Entry::Scalar { tag, value });
        }
        self
    }

    /// Adds a histogram of `values`, as
    /// [`add_histogram`](crate::SummaryWriter::add_histogram) does: a `Vec`
    /// is moved, a slice copied, and the bucketing waits for the write.
    pub fn histogram<V>(&mut self, tag: &str, values: V) -> &mut Batch
    where
        V: IntoIterator,
        V::IntoIter: HistogramValues,
    {
        if self.checked(tag) {
            let values = values.into_iter().into_owned();
            self.left_out += values.non_finite();
            let tag = self.tag(tag);
            self.histograms.push((tag, values));
        }
        self
    }

    /// Adds a value built beforehand (with [`crate::summary`] or
    /// [`crate::histogram`]).
    pub fn value(&mut self, value: summary::Value) -> &mut Batch {
        self.values.push(Entry::Value(Box::new(value)));
        self
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.histograms.is_empty()
    }

    /// The first bad argument, if any: the tag it came with is named.
    pub(crate) fn error(&mut self) -> Option<SummaryError> {
        self.error.take()
    }

    /// NaN and infinite values the histograms leave out.
    pub(crate) fn left_out(&self) -> usize {
        self.left_out
    }

    /// The values, then the histograms bucketed, each in the order added.
    pub(crate) fn into_values(self) -> Vec<summary::Value> {
        let tags = self.tags;
        let mut values = Vec::with_capacity(self.values.len() + self.histograms.len());
        values.extend(self.values.into_iter().map(|entry| match entry {
            Entry::Scalar { tag, value } => crate::summary::scalar(&tags[tag], value),
            Entry::Value(value) => *value,
        }));
        for (tag, owned) in self.histograms {
            values.push(owned.histogram(&tags[tag]));
            owned.recycle();
        }
        values
    }

    /// Appends `tag` to the batch's tags, returning where it lies.
    fn tag(&mut self, tag: &str) -> Range<usize> {
        let start = self.tags.len();
        self.tags.push_str(tag);
        start..self.tags.len()
    }

    fn checked(&mut self, tag: &str) -> bool {
        match check_tag(tag) {
            Ok(()) => true,
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_events, SummaryWriter};

    /// A batch is one event, the same whether the writer's thread or the
    /// caller's buckets it; a bad tag anywhere writes nothing.
    #[test]
    fn one_event_in_both_modes() {
        let mut events = Vec::new();
        for background in [None, Some(2)] {
            let dir = tempfile::tempdir().unwrap();
            let mut builder = SummaryWriter::builder(dir.path());
            if let Some(capacity) = background {
                builder = builder.background(capacity);
            }
            let writer = builder.build().unwrap();
            let mut batch = Batch::new();
            batch
                .histogram("g", vec![1.0f32, -2.0, f32::INFINITY])
                .scalar("loss", 0.5)
                .histogram("w", &[0.25f64, 4.0][..]);
            assert_eq!(writer.add_batch(batch, 3).unwrap(), 1);
            let mut bad = Batch::new();
            bad.scalar("ok", 1).histogram("", vec![1.0f32]);
            assert!(writer
                .add_batch(bad, 4)
                .unwrap_err()
                .to_string()
                .contains("tag"));
            writer.close().unwrap();
            let mut read = read_events(writer.file_path()).unwrap().events;
            assert_eq!(read.len(), 2, "the file version, then the batch");
            read[1].wall_time = 0.0;
            events.push(read.remove(1));
        }
        assert_eq!(events[0], events[1]);
        let crate::proto::event::What::Summary(summary) = events[0].what.as_ref().unwrap() else {
            panic!("not a summary");
        };
        let tags: Vec<&str> = summary.value.iter().map(|v| v.tag.as_str()).collect();
        assert_eq!(tags, ["loss", "g", "w"]);
    }
}
