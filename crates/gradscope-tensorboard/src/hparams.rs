//! HParams summaries, for TensorBoard's HParams dashboard.
//!
//! The dashboard reads three records, each a summary value whose metadata
//! names the "hparams" plugin and carries a serialized `HParamsPluginData`
//! (the value itself is an empty tensor: everything is in the metadata):
//!
//! - [`experiment`] (`_hparams_/experiment`): which hyperparameters and
//!   metrics are columns, with their types and domains. TensorBoard takes the
//!   first one it finds in any run; without one it guesses the columns from
//!   the session records it has read so far. Built from the hyperparameter
//!   *list* alone, never from one run's values, so every run can carry an
//!   identical copy and the columns do not depend on which is read first.
//! - [`session_start`] (`_hparams_/session_start_info`): this run's values.
//!   The run folder holding it is the session; its metrics are the last
//!   values of the scalar tags named in the experiment, read from that
//!   same folder.
//! - [`session_end`] (`_hparams_/session_end_info`): success or failure.
//!
//! One list of `(name, HParam)` feeds both the experiment and the session
//! start, so adding a hyperparameter is one entry in the caller's list.

use std::fmt;

use prost::Message;
use prost_types::{value::Kind, ListValue, Value as ProtoValue};

use crate::proto::hparams::{
    h_param_info, h_params_plugin_data, DataType as HParamType, DatasetType, Experiment,
    HParamInfo, HParamsPluginData, MetricInfo, MetricName, SessionEndInfo, SessionStartInfo,
    Status,
};
use crate::proto::{
    summary, tensor_shape_proto, DataClass, DataType, TensorProto, TensorShapeProto,
};
use crate::summary::plugin_metadata;

/// The plugin name TensorBoard's HParams dashboard reads.
pub const PLUGIN_NAME: &str = "hparams";
/// The tag of the [`experiment`] record.
pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
/// The tag of the [`session_start`] record.
pub const SESSION_START_INFO_TAG: &str = "_hparams_/session_start_info";
/// The tag of the [`session_end`] record.
pub const SESSION_END_INFO_TAG: &str = "_hparams_/session_end_info";

/// A hyperparameter's value, and with it the kind of column it gets.
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    /// One of a fixed set of strings; the set is the column's domain, so the
    /// dashboard offers a checkbox per choice.
    Choice {
        /// This run's value.
        value: String,
        /// Every value the column can take, `value` among them.
        choices: Vec<String>,
    },
    /// A real number; the dashboard offers a min/max filter.
    Real(f64),
    /// A whole number. TensorBoard stores every number as a double, so
    /// values above 2^53 reach the dashboard rounded.
    Integer(u64),
    /// A switch; the domain is `false`, `true`.
    Bool(bool),
}

impl HParam {
    /// A choice of `value` among `choices`.
    pub fn choice(value: &str, choices: impl IntoIterator<Item = impl Into<String>>) -> HParam {
        HParam::Choice {
            value: value.to_string(),
            choices: choices.into_iter().map(Into::into).collect(),
        }
    }

    /// The value as the session record stores it.
    fn to_proto(&self) -> ProtoValue {
        let kind = match self {
            HParam::Choice { value, .. } => Kind::StringValue(value.clone()),
            HParam::Real(x) => Kind::NumberValue(*x),
            HParam::Integer(n) => Kind::NumberValue(*n as f64),
            HParam::Bool(b) => Kind::BoolValue(*b),
        };
        ProtoValue { kind: Some(kind) }
    }

    /// The column's type and domain; the value itself plays no part.
    fn info(&self, name: &str) -> HParamInfo {
        let (kind, domain) = match self {
            HParam::Choice { choices, .. } => (
                HParamType::String,
                Some(discrete(
                    choices.iter().map(|c| Kind::StringValue(c.clone())),
                )),
            ),
            // No interval: any value the flag accepts is possible, and the
            // dashboard's filter for numbers is a free min/max anyway.
            HParam::Real(_) | HParam::Integer(_) => (HParamType::Float64, None),
            HParam::Bool(_) => (
                HParamType::Bool,
                Some(discrete([false, true].map(Kind::BoolValue))),
            ),
        };
        HParamInfo {
            name: name.to_string(),
            r#type: kind as i32,
            domain,
            ..Default::default()
        }
    }
}

fn discrete(kinds: impl IntoIterator<Item = Kind>) -> h_param_info::Domain {
    h_param_info::Domain::DomainDiscrete(ListValue {
        values: kinds
            .into_iter()
            .map(|kind| ProtoValue { kind: Some(kind) })
            .collect(),
    })
}

/// As the run's configuration table shows it.
impl fmt::Display for HParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HParam::Choice { value, .. } => f.write_str(value),
            HParam::Real(x) => write!(f, "{x}"),
            HParam::Integer(n) => write!(f, "{n}"),
            HParam::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A metric column: the last value of the scalar `tag` in each session's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The scalar tag whose last value is the metric.
    pub tag: &'static str,
    /// What the dashboard says of it.
    pub description: &'static str,
    /// Whether it is measured on training or held-out data.
    pub dataset: DatasetType,
}

/// The experiment record: a column per hyperparameter of `hparams` (their
/// values are ignored) and per metric.
pub fn experiment(
    description: &str,
    hparams: &[(&str, HParam)],
    metrics: &[Metric],
) -> summary::Value {
    let experiment = Experiment {
        description: description.to_string(),
        hparam_infos: hparams.iter().map(|(name, h)| h.info(name)).collect(),
        metric_infos: metrics
            .iter()
            .map(|m| MetricInfo {
                name: Some(MetricName {
                    group: String::new(),
                    tag: m.tag.to_string(),
                }),
                description: m.description.to_string(),
                dataset_type: m.dataset as i32,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    record(
        EXPERIMENT_TAG,
        h_params_plugin_data::Data::Experiment(experiment),
    )
}

/// The session-start record: this run's value of each hyperparameter. An
/// empty group name makes the run its own group, named after its folder.
pub fn session_start(hparams: &[(&str, HParam)], start_time_secs: f64) -> summary::Value {
    let info = SessionStartInfo {
        hparams: hparams
            .iter()
            .map(|(name, h)| (name.to_string(), h.to_proto()))
            .collect(),
        start_time_secs,
        ..Default::default()
    };
    record(
        SESSION_START_INFO_TAG,
        h_params_plugin_data::Data::SessionStartInfo(info),
    )
}

/// The session-end record.
pub fn session_end(status: Status, end_time_secs: f64) -> summary::Value {
    let info = SessionEndInfo {
        status: status as i32,
        end_time_secs,
    };
    record(
        SESSION_END_INFO_TAG,
        h_params_plugin_data::Data::SessionEndInfo(info),
    )
}

fn record(tag: &str, data: h_params_plugin_data::Data) -> summary::Value {
    let content = HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    summary::Value {
        tag: tag.to_string(),
        metadata: Some(plugin_metadata(PLUGIN_NAME, content, DataClass::Tensor)),
        value: Some(summary::value::Value::Tensor(empty_tensor())),
        ..Default::default()
    }
}

/// A float vector of length 0, the smallest valid tensor: what TensorBoard
/// itself puts under a record that lives entirely in its metadata.
fn empty_tensor() -> TensorProto {
    TensorProto {
        dtype: DataType::DtFloat as i32,
        tensor_shape: Some(TensorShapeProto {
            dim: vec![tensor_shape_proto::Dim {
                size: 0,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Vec<(&'static str, HParam)> {
        vec![
            ("activation", HParam::choice("relu", ["sigmoid", "relu"])),
            ("lr", HParam::Real(0.001)),
            ("layers", HParam::Integer(6)),
            ("residual", HParam::Bool(true)),
        ]
    }

    const METRICS: &[Metric] = &[Metric {
        tag: "test_acc",
        description: "accuracy on the test set",
        dataset: DatasetType::DatasetValidation,
    }];

    /// The plugin data of a record, checking what every record shares.
    fn plugin_data(value: &summary::Value, tag: &str) -> h_params_plugin_data::Data {
        assert_eq!(value.tag, tag);
        let metadata = value.metadata.as_ref().unwrap();
        assert_eq!(metadata.data_class, DataClass::Tensor as i32);
        let plugin = metadata.plugin_data.as_ref().unwrap();
        assert_eq!(plugin.plugin_name, "hparams");
        let Some(summary::value::Value::Tensor(t)) = &value.value else {
            panic!("no tensor")
        };
        assert_eq!(t.dtype, DataType::DtFloat as i32);
        assert_eq!(t.tensor_shape.as_ref().unwrap().dim[0].size, 0);
        let data = HParamsPluginData::decode(plugin.content.as_slice()).unwrap();
        assert_eq!(data.version, 0);
        data.data.unwrap()
    }

    #[test]
    fn experiment_lists_every_hparam_with_type_and_domain_and_every_metric() {
        let h_params_plugin_data::Data::Experiment(e) =
            plugin_data(&experiment("d", &list(), METRICS), EXPERIMENT_TAG)
        else {
            panic!("not an experiment")
        };
        assert_eq!(e.description, "d");
        let names: Vec<&str> = e.hparam_infos.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["activation", "lr", "layers", "residual"]);
        let types: Vec<i32> = e.hparam_infos.iter().map(|h| h.r#type).collect();
        assert_eq!(
            types,
            [
                HParamType::String,
                HParamType::Float64,
                HParamType::Float64,
                HParamType::Bool
            ]
            .map(|t| t as i32)
        );
        let Some(h_param_info::Domain::DomainDiscrete(choices)) = &e.hparam_infos[0].domain else {
            panic!("activation has no discrete domain")
        };
        let choices: Vec<_> = choices
            .values
            .iter()
            .map(|v| v.kind.clone().unwrap())
            .collect();
        assert_eq!(
            choices,
            [
                Kind::StringValue("sigmoid".into()),
                Kind::StringValue("relu".into())
            ]
        );
        assert!(e.hparam_infos[1].domain.is_none());
        let metric = &e.metric_infos[0];
        assert_eq!(metric.name.as_ref().unwrap().tag, "test_acc");
        assert_eq!(metric.name.as_ref().unwrap().group, "");
        assert_eq!(metric.dataset_type, DatasetType::DatasetValidation as i32);
    }

    #[test]
    fn experiment_does_not_depend_on_the_values() {
        let mut other = list();
        other[0].1 = HParam::choice("sigmoid", ["sigmoid", "relu"]);
        other[1].1 = HParam::Real(0.5);
        other[3].1 = HParam::Bool(false);
        assert_eq!(
            experiment("d", &list(), METRICS).encode_to_vec(),
            experiment("d", &other, METRICS).encode_to_vec()
        );
    }

    #[test]
    fn session_start_holds_each_value_with_its_type() {
        let h_params_plugin_data::Data::SessionStartInfo(s) =
            plugin_data(&session_start(&list(), 12.5), SESSION_START_INFO_TAG)
        else {
            panic!("not a session start")
        };
        assert_eq!(s.start_time_secs, 12.5);
        assert_eq!(s.group_name, "");
        let kind = |name: &str| s.hparams[name].kind.clone().unwrap();
        assert_eq!(kind("activation"), Kind::StringValue("relu".into()));
        assert_eq!(kind("lr"), Kind::NumberValue(0.001));
        assert_eq!(kind("layers"), Kind::NumberValue(6.0));
        assert_eq!(kind("residual"), Kind::BoolValue(true));
        assert_eq!(s.hparams.len(), 4);
    }

    #[test]
    fn session_end_has_status_and_time() {
        let h_params_plugin_data::Data::SessionEndInfo(s) =
            plugin_data(&session_end(Status::Failure, 3.0), SESSION_END_INFO_TAG)
        else {
            panic!("not a session end")
        };
        assert_eq!(s.status, Status::Failure as i32);
        assert_eq!(s.end_time_secs, 3.0);
    }

    #[test]
    fn display_is_the_plain_value() {
        let shown: Vec<String> = list().iter().map(|(_, h)| h.to_string()).collect();
        assert_eq!(shown, ["relu", "0.001", "6", "true"]);
    }
}
