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
    session_start_in_group(hparams, "", start_time_secs)
}

/// [`session_start`] in the session group `group`: the dashboard shows the
/// runs of one group as one row, its metrics the mean over them (give the
/// seeds of one configuration the same group).
///
/// ```
/// use gradscope_tensorboard::hparams::{session_start_in_group, HParam};
///
/// let start = session_start_in_group(&[("lr", HParam::Real(0.1))], "lr=0.1", 1.7e9);
/// assert_eq!(start.tag, "_hparams_/session_start_info");
/// ```
pub fn session_start_in_group(
    hparams: &[(&str, HParam)],
    group: &str,
    start_time_secs: f64,
) -> summary::Value {
    let info = SessionStartInfo {
        hparams: hparams
            .iter()
            .map(|(name, h)| (name.to_string(), h.to_proto()))
            .collect(),
        group_name: group.to_string(),
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

/// A hyperparameter value for [`HParams`]: a string, a switch or a number.
/// Converts from `&str`, `String`, `bool` and the number types.
#[derive(Debug, Clone, PartialEq)]
pub enum HParamValue {
    /// A string column, filtered by a regular expression in the dashboard.
    String(String),
    /// A switch column with the domain `false`, `true`.
    Bool(bool),
    /// A number column (a double in TensorBoard), filtered by min/max.
    Number(f64),
}

impl From<&str> for HParamValue {
    fn from(v: &str) -> HParamValue {
        HParamValue::String(v.to_string())
    }
}

impl From<String> for HParamValue {
    fn from(v: String) -> HParamValue {
        HParamValue::String(v)
    }
}

impl From<bool> for HParamValue {
    fn from(v: bool) -> HParamValue {
        HParamValue::Bool(v)
    }
}

macro_rules! number_hparam {
    ($($t:ty),*) => {$(
        impl From<$t> for HParamValue {
            fn from(v: $t) -> HParamValue {
                HParamValue::Number(v as f64)
            }
        }
    )*};
}
number_hparam!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl HParamValue {
    fn to_proto(&self) -> ProtoValue {
        let kind = match self {
            HParamValue::String(s) => Kind::StringValue(s.clone()),
            HParamValue::Bool(b) => Kind::BoolValue(*b),
            HParamValue::Number(x) => Kind::NumberValue(*x),
        };
        ProtoValue { kind: Some(kind) }
    }

    fn info(&self, name: &str) -> HParamInfo {
        let (kind, domain) = match self {
            // No domain: the experiment record is the same for every run of
            // the same names, and the dashboard filters by pattern or range.
            HParamValue::String(_) => (HParamType::String, None),
            HParamValue::Number(_) => (HParamType::Float64, None),
            HParamValue::Bool(_) => (
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

/// One run's hyperparameters for
/// [`SummaryWriter::add_hparams`](crate::SummaryWriter::add_hparams), in
/// the order they are set, and the session group the run belongs to.
///
/// Runs in one group are one row of the HParams dashboard (its metrics the
/// mean over them, each run a session under it): give every seed of one
/// configuration the same group, or let
/// [`group_by_all_but`](HParams::group_by_all_but) name the group after the
/// other values.
///
/// ```
/// use gradscope_tensorboard::hparams::HParams;
///
/// let hp = HParams::new()
///     .set("optimizer", "adam")
///     .set("lr", 0.01)
///     .set("residual", true)
///     .set("seed", 7)
///     .group_by_all_but(&["seed"]);
/// assert_eq!(hp.group_name(), "optimizer=adam, lr=0.01, residual=true");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HParams {
    values: Vec<(String, HParamValue)>,
    group: String,
}

impl HParams {
    /// No hyperparameters, no group (each run its own group).
    pub fn new() -> HParams {
        HParams::default()
    }

    /// Sets `name` to `value` (replacing an earlier value of `name`).
    pub fn set(mut self, name: &str, value: impl Into<HParamValue>) -> Self {
        let value = value.into();
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.values.push((name.to_string(), value)),
        }
        self
    }

    /// Puts the run in the session group `name`.
    pub fn group(mut self, name: &str) -> Self {
        self.group = name.to_string();
        self
    }

    /// Names the session group after every value set so far except those
    /// in `excluded` (such as the seed), so runs differing only there
    /// group together. Set the values first.
    pub fn group_by_all_but(mut self, excluded: &[&str]) -> Self {
        self.group = self
            .values
            .iter()
            .filter(|(n, _)| !excluded.contains(&n.as_str()))
            .map(|(n, v)| match v {
                HParamValue::String(s) => format!("{n}={s}"),
                HParamValue::Bool(b) => format!("{n}={b}"),
                HParamValue::Number(x) => format!("{n}={x}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        self
    }

    /// The session group ("" for a group of its own).
    pub fn group_name(&self) -> &str {
        &self.group
    }

    /// The values in the order set.
    pub fn values(&self) -> &[(String, HParamValue)] {
        &self.values
    }

    /// Checks names (non-empty, unique) and numbers (finite), naming the
    /// hyperparameter in the error.
    pub(crate) fn check(&self) -> Result<(), crate::SummaryError> {
        use crate::SummaryError;
        for (i, (name, value)) in self.values.iter().enumerate() {
            if name.is_empty() {
                return Err(SummaryError::invalid(name, "hparams", "a non-empty name"));
            }
            if self.values[..i].iter().any(|(n, _)| n == name) {
                return Err(SummaryError::invalid(name, "hparams", "each name once"));
            }
            if let HParamValue::Number(x) = value {
                if !x.is_finite() {
                    return Err(SummaryError::invalid(
                        name,
                        "hparams",
                        format!("a finite number, got {x}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The three records [`HParams`] become: the experiment (a column per
/// hyperparameter and per metric tag in `metrics`), this run's session
/// start (values and group) and its end (success).
///
/// ```
/// use gradscope_tensorboard::hparams::{session_records, HParams};
///
/// let hp = HParams::new().set("lr", 0.1).group("lr=0.1");
/// let [experiment, start, end] = session_records(&hp, &["accuracy"], 1.7e9, 1.7e9);
/// assert_eq!(experiment.tag, "_hparams_/experiment");
/// assert_eq!(start.tag, "_hparams_/session_start_info");
/// assert_eq!(end.tag, "_hparams_/session_end_info");
/// ```
pub fn session_records(
    hparams: &HParams,
    metrics: &[&str],
    start_time_secs: f64,
    end_time_secs: f64,
) -> [summary::Value; 3] {
    let experiment = Experiment {
        hparam_infos: hparams.values.iter().map(|(n, v)| v.info(n)).collect(),
        metric_infos: metrics
            .iter()
            .map(|tag| MetricInfo {
                name: Some(MetricName {
                    group: String::new(),
                    tag: tag.to_string(),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let start = SessionStartInfo {
        hparams: hparams
            .values
            .iter()
            .map(|(n, v)| (n.clone(), v.to_proto()))
            .collect(),
        group_name: hparams.group.clone(),
        start_time_secs,
        ..Default::default()
    };
    [
        record(
            EXPERIMENT_TAG,
            h_params_plugin_data::Data::Experiment(experiment),
        ),
        record(
            SESSION_START_INFO_TAG,
            h_params_plugin_data::Data::SessionStartInfo(start),
        ),
        session_end(Status::Success, end_time_secs),
    ]
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
    fn session_records_carry_values_types_group_and_metrics() {
        let hp = HParams::new()
            .set("opt", "sgd")
            .set("lr", 0.5f32)
            .set("bn", false)
            .set("seed", 3u64)
            .set("opt", "adam")
            .group_by_all_but(&["seed"]);
        assert_eq!(hp.group_name(), "opt=adam, lr=0.5, bn=false");
        let [e, s, end] = session_records(&hp, &["acc"], 1.0, 2.0);
        let h_params_plugin_data::Data::Experiment(e) = plugin_data(&e, EXPERIMENT_TAG) else {
            panic!("not an experiment")
        };
        let types: Vec<i32> = e.hparam_infos.iter().map(|h| h.r#type).collect();
        assert_eq!(
            types,
            [
                HParamType::String,
                HParamType::Float64,
                HParamType::Bool,
                HParamType::Float64
            ]
            .map(|t| t as i32)
        );
        assert_eq!(e.metric_infos[0].name.as_ref().unwrap().tag, "acc");
        let h_params_plugin_data::Data::SessionStartInfo(s) =
            plugin_data(&s, SESSION_START_INFO_TAG)
        else {
            panic!("not a session start")
        };
        assert_eq!(s.group_name, "opt=adam, lr=0.5, bn=false");
        assert_eq!(
            s.hparams["opt"].kind,
            Some(Kind::StringValue("adam".into()))
        );
        assert_eq!(s.hparams["seed"].kind, Some(Kind::NumberValue(3.0)));
        let h_params_plugin_data::Data::SessionEndInfo(end) =
            plugin_data(&end, SESSION_END_INFO_TAG)
        else {
            panic!("not a session end")
        };
        assert_eq!(end.status, Status::Success as i32);
    }

    #[test]
    fn bad_hparams_are_errors_naming_them() {
        assert!(HParams::new().set("a", 1).check().is_ok());
        let e = HParams::new().set("lr", f64::NAN).check().unwrap_err();
        assert!(
            e.to_string().contains("\"lr\"") && e.to_string().contains("finite"),
            "{e}"
        );
        assert!(HParams::new().set("", 1).check().is_err());
    }

    #[test]
    fn display_is_the_plain_value() {
        let shown: Vec<String> = list().iter().map(|(_, h)| h.to_string()).collect();
        assert_eq!(shown, ["relu", "0.001", "6", "true"]);
    }
}
