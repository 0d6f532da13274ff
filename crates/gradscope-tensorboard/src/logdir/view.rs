//! [`EventView`]: an event as the logdir reader reads it, histogram buckets
//! left undecoded.
//!
//! It is TensorBoard's `Event` with the same field numbers, except that a
//! histogram's fields are not part of its schema: decoding skips them as
//! unknown fields instead of reading every bucket, which made a logdir
//! written at every step (150 MB, nearly all histogram buckets) slow to
//! summarise. Scalars, tensors and plugin metadata decode as in `Event`.
//! The reader only counts a histogram's points, so nothing is lost.

use crate::proto::{self, Event, SessionLog, SummaryMetadata, TensorProto};

/// An `Event` without its histograms' contents.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventView {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "What", tags = "3, 4, 5, 7, 9")]
    pub what: Option<What>,
}

/// What an [`EventView`] carries.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(bytes = "vec", tag = "4")]
    GraphDef(Vec<u8>),
    #[prost(message, tag = "5")]
    Summary(SummaryView),
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
    #[prost(bytes = "vec", tag = "9")]
    MetaGraphDef(Vec<u8>),
}

/// A `Summary` whose histograms are [`HistogramView`]s.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryView {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<ValueView>,
}

/// One tagged value of a [`SummaryView`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueView {
    #[prost(string, tag = "7")]
    pub node_name: String,
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    #[prost(oneof = "Value", tags = "2, 3, 4, 5, 6, 8")]
    pub value: Option<Value>,
}

/// The value of a [`ValueView`].
// The variants are the protobuf's (`Summary.Value.value`), as in `proto`.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    #[prost(bytes = "vec", tag = "3")]
    ObsoleteOldStyleHistogram(Vec<u8>),
    #[prost(message, tag = "4")]
    Image(proto::summary::Image),
    #[prost(message, tag = "5")]
    Histo(HistogramView),
    #[prost(message, tag = "6")]
    Audio(proto::summary::Audio),
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
}

/// A `HistogramProto`, none of whose fields are decoded.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct HistogramView {}

impl From<&Event> for EventView {
    /// The event as [`EventView`] decodes it from a file, without encoding
    /// it: a histogram's buckets are dropped, everything else is copied.
    fn from(event: &Event) -> EventView {
        use proto::event::What as E;
        use proto::summary::value::Value as V;
        let what = event.what.as_ref().map(|what| match what {
            E::FileVersion(v) => What::FileVersion(v.clone()),
            E::GraphDef(g) => What::GraphDef(g.clone()),
            E::SessionLog(s) => What::SessionLog(s.clone()),
            E::MetaGraphDef(g) => What::MetaGraphDef(g.clone()),
            E::Summary(s) => What::Summary(SummaryView {
                value: s
                    .value
                    .iter()
                    .map(|v| ValueView {
                        node_name: v.node_name.clone(),
                        tag: v.tag.clone(),
                        metadata: v.metadata.clone(),
                        value: v.value.as_ref().map(|value| match value {
                            V::SimpleValue(x) => Value::SimpleValue(*x),
                            V::ObsoleteOldStyleHistogram(b) => {
                                Value::ObsoleteOldStyleHistogram(b.clone())
                            }
                            V::Image(i) => Value::Image(i.clone()),
                            V::Histo(_) => Value::Histo(HistogramView {}),
                            V::Audio(a) => Value::Audio(a.clone()),
                            V::Tensor(t) => Value::Tensor(t.clone()),
                        }),
                    })
                    .collect(),
            }),
        });
        EventView {
            wall_time: event.wall_time,
            step: event.step,
            what,
        }
    }
}
