//! `gradscope export LOGDIR`: every point of a logdir's runs as rows for a
//! dataframe, in CSV or JSON Lines, from any TensorBoard writer.
//!
//! One row per point: `run`, `tag`, `kind`, `step`, `wall_time`, then
//!
//! - scalars: `value`;
//! - histograms, by default: `count`, `min`, `max`, `mean`, `p10`, `p50`,
//!   `p90` (see [`Summary`]); with [`Histograms::Buckets`], one row per
//!   bucket instead: `left`, `right`, `count`.
//!
//! Text, images, audio and other plugins' tensors are left out, counted in
//! one line on stderr. Points come in file order (a step written twice
//! gives two rows), runs and tags sorted by name.
//!
//! Non-finite numbers: `nan`, `inf`, `-inf` in CSV (pandas reads them as
//! floats); in JSON Lines, which has no such numbers, the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"` (as TensorBoard's loader script in
//! `scripts/` writes them; `float()` in Python reads them). A cell that
//! does not apply to a row is empty in CSV and absent in JSON Lines.
//!
//! Parquet ([`parquet`], with the `parquet` feature) has the same columns
//! typed: strings, `step` int64, the rest doubles, null where a number does
//! not apply, non-finite ones as they are.
//!
//! With an output file, the rows go to a temporary file beside it, renamed
//! over it once complete: a failure leaves no half-written file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Result};
use gradscope_tensorboard::logdir::{Kind, Logdir, Run};
use gradscope_tensorboard::proto::summary::value::Value;
use gradscope_tensorboard::proto::{event, DataType, HistogramProto, TensorProto};
use gradscope_tensorboard::EventReader;
use regex::Regex;

#[cfg(feature = "parquet")]
mod parquet;

/// The file format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One Apache Parquet file (to a file only; builds with the `parquet`
    /// feature).
    Parquet,
}

/// How `export` writes histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Histograms {
    /// One row per histogram: count, min, max, mean, p10, p50, p90.
    Summary,
    /// One row per bucket: left, right, count.
    Buckets,
}

/// What to export and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub format: ExportFormat,
    pub histograms: Histograms,
    /// Only tags whose name this matches (anywhere in it).
    pub tags: Option<Regex>,
    /// Only runs whose name this matches (anywhere in it).
    pub runs: Option<Regex>,
}

/// The run of `export`: rows to `output`, or to stdout when it is `None`.
pub fn run(logdir: &Path, output: Option<&Path>, options: &Options) -> Result<()> {
    let logdir = Logdir::load(logdir)?;
    logdir.require_runs()?;
    for file in logdir.damaged_files() {
        eprintln!("{}", super::problem(file).unwrap_or_default());
    }
    let failed = logdir.failed_files();
    if failed > 0 {
        bail!("{failed} event file(s) could not be read (see above); nothing exported");
    }
    let result = match (output, options.format) {
        (None, ExportFormat::Parquet) => bail!("a Parquet export goes to a file, not to stdout"),
        (Some(path), ExportFormat::Parquet) => {
            write_atomically(path, |out| export_parquet(&logdir, options, out))
        }
        (Some(path), _) => write_atomically(path, |out| export(&logdir, options, out)),
        (None, _) => {
            let mut out = BufWriter::new(io::stdout().lock());
            export(&logdir, options, &mut out).and_then(|stats| {
                out.flush()?;
                Ok(stats)
            })
        }
    };
    let stats = match result {
        Ok(stats) => stats,
        // A closed stdout (`| head`): the reader has what it wanted.
        Err(e) if output.is_none() && e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => {
            return Err(match output {
                Some(path) => anyhow::Error::new(e).context(format!("writing {}", path.display())),
                None => anyhow::Error::new(e).context("writing to stdout"),
            })
        }
    };
    if let Some(line) = stats.left_out_line() {
        eprintln!("{line}");
    }
    if stats.rows == 0 {
        eprintln!("warning: no points to export (check --tags and --runs)");
    }
    Ok(())
}

/// What an export wrote and left out.
#[derive(Debug, Default)]
struct Stats {
    rows: usize,
    /// Per kind left out: tags and points.
    left_out: BTreeMap<String, (usize, usize)>,
}

impl Stats {
    fn leave_out(&mut self, kind: String, points: usize) {
        let entry = self.left_out.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += points;
    }

    fn left_out_line(&self) -> Option<String> {
        if self.left_out.is_empty() {
            return None;
        }
        let parts: Vec<String> = (self.left_out.iter())
            .map(|(kind, (tags, points))| {
                format!(
                    "{kind}: {tags} tag{}, {points} point{}",
                    plural(*tags),
                    plural(*points)
                )
            })
            .collect();
        Some(format!(
            "left out (export writes scalars and histograms only): {}",
            parts.join("; ")
        ))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Writes through `write` into a temporary file beside `path`, then renames
/// it to `path`; on any failure the temporary file is removed.
fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>,
) -> io::Result<T> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the output names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let mut out = BufWriter::new(File::create(&temp)?);
        let value = write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)?;
        Ok(value)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The columns, in order, for the histogram mode.
fn columns(histograms: Histograms) -> &'static [&'static str] {
    match histograms {
        Histograms::Summary => &[
            "run",
            "tag",
            "kind",
            "step",
            "wall_time",
            "value",
            "count",
            "min",
            "max",
            "mean",
            "p10",
            "p50",
            "p90",
        ],
        Histograms::Buckets => &[
            "run",
            "tag",
            "kind",
            "step",
            "wall_time",
            "value",
            "left",
            "right",
            "count",
        ],
    }
}

/// One row: the text columns, the step, then numbers by column name (a
/// column not named is empty).
struct Row<'a> {
    run: &'a str,
    tag: &'a str,
    kind: &'static str,
    step: i64,
    wall_time: f64,
    numbers: Vec<(&'static str, f64)>,
}

/// The rows as CSV or JSON Lines into `out`.
fn export(logdir: &Logdir, options: &Options, out: &mut impl Write) -> io::Result<Stats> {
    let columns = columns(options.histograms);
    if options.format == ExportFormat::Csv {
        writeln!(out, "{}", columns.join(","))?;
    }
    export_rows(logdir, options, &mut |row| {
        write_row(out, options.format, columns, row)
    })
}

/// The rows as one Parquet file into `out`.
#[cfg(feature = "parquet")]
fn export_parquet<W: Write + Send>(
    logdir: &Logdir,
    options: &Options,
    out: W,
) -> io::Result<Stats> {
    // The numbers' columns: those after the five every row has.
    let numbers = &columns(options.histograms)[5..];
    let mut rows = parquet::ParquetRows::new(out, numbers)?;
    let stats = export_rows(logdir, options, &mut |row| rows.push(row))?;
    rows.finish()?;
    Ok(stats)
}

#[cfg(not(feature = "parquet"))]
fn export_parquet<W: Write + Send>(_: &Logdir, _: &Options, _: W) -> io::Result<Stats> {
    Err(io::Error::other(
        "this build has no Parquet support: build gradscope with `--features parquet`",
    ))
}

/// Every selected point as a [`Row`] to `emit`, in order.
fn export_rows(
    logdir: &Logdir,
    options: &Options,
    emit: &mut dyn FnMut(&Row) -> io::Result<()>,
) -> io::Result<Stats> {
    let mut stats = Stats::default();
    let selected = |re: &Option<Regex>, name: &str| re.as_ref().is_none_or(|re| re.is_match(name));
    for run in logdir
        .runs
        .iter()
        .filter(|r| selected(&options.runs, &r.name))
    {
        let tags: Vec<(&String, &_)> = (run.tags.iter())
            .filter(|(name, _)| selected(&options.tags, name))
            .collect();
        let histogram_tags: BTreeSet<&str> = (tags.iter())
            .filter(|(_, t)| t.kind == Kind::Histogram)
            .map(|(name, _)| name.as_str())
            .collect();
        let mut histograms = read_histograms(run, &histogram_tags);
        for (name, tag) in tags {
            match tag.kind {
                Kind::Scalar => {
                    for point in &tag.points {
                        let numbers = point.value.map(|v| ("value", v)).into_iter().collect();
                        let row = Row {
                            run: &run.name,
                            tag: name,
                            kind: "scalar",
                            step: point.step,
                            wall_time: point.wall_time,
                            numbers,
                        };
                        emit(&row)?;
                        stats.rows += 1;
                    }
                }
                Kind::Histogram => {
                    let read = histograms.remove(name.as_str()).unwrap_or_default();
                    let unreadable = tag.points.len().saturating_sub(read.len());
                    if unreadable > 0 {
                        stats.leave_out("histogram of an unknown encoding".into(), unreadable);
                    }
                    for h in &read {
                        let mut row = Row {
                            run: &run.name,
                            tag: name,
                            kind: "histogram",
                            step: h.step,
                            wall_time: h.wall_time,
                            numbers: Vec::new(),
                        };
                        match options.histograms {
                            Histograms::Summary => {
                                row.numbers = Summary::of(h).numbers();
                                emit(&row)?;
                                stats.rows += 1;
                            }
                            Histograms::Buckets => {
                                for b in &h.buckets {
                                    row.numbers = vec![
                                        ("left", b.left),
                                        ("right", b.right),
                                        ("count", b.count),
                                    ];
                                    emit(&row)?;
                                    stats.rows += 1;
                                }
                            }
                        }
                    }
                }
                ref other => stats.leave_out(other.to_string(), tag.points.len()),
            }
        }
    }
    Ok(stats)
}

fn write_row(
    out: &mut impl Write,
    format: ExportFormat,
    columns: &[&str],
    row: &Row,
) -> io::Result<()> {
    let number = |column: &str| {
        (row.numbers.iter())
            .find(|(c, _)| *c == column)
            .map(|&(_, v)| v)
    };
    match format {
        ExportFormat::Csv => {
            let mut line = String::new();
            for (i, &column) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                match column {
                    "run" => line.push_str(&csv_field(row.run)),
                    "tag" => line.push_str(&csv_field(row.tag)),
                    "kind" => line.push_str(row.kind),
                    "step" => line.push_str(&row.step.to_string()),
                    "wall_time" => line.push_str(&csv_number(row.wall_time)),
                    _ => {
                        if let Some(v) = number(column) {
                            line.push_str(&csv_number(v));
                        }
                    }
                }
            }
            line.push('\n');
            out.write_all(line.as_bytes())
        }
        ExportFormat::Parquet => Err(io::Error::other("Parquet is not written row by row")),
        ExportFormat::Jsonl => {
            let mut line = format!(
                "{{\"run\":{},\"tag\":{},\"kind\":\"{}\",\"step\":{},\"wall_time\":{}",
                json_string(row.run),
                json_string(row.tag),
                row.kind,
                row.step,
                json_number(row.wall_time)
            );
            for &column in &columns[5..] {
                if let Some(v) = number(column) {
                    line.push_str(&format!(",\"{column}\":{}", json_number(v)));
                }
            }
            line.push_str("}\n");
            out.write_all(line.as_bytes())
        }
    }
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line
/// break, its quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The shortest text that reads back as the same f64; `nan`, `inf`, `-inf`.
fn csv_number(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        v.to_string()
    }
}

fn json_number(v: f64) -> String {
    if v.is_nan() {
        "\"NaN\"".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        }
        .into()
    } else {
        v.to_string()
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One bucket of a histogram: `count` values in `[left, right]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub left: f64,
    pub right: f64,
    pub count: f64,
}

/// One histogram point, as buckets, with the exact numbers its encoding
/// carries (the `HistogramProto` form's min, max and sum).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    pub step: i64,
    pub wall_time: f64,
    pub buckets: Vec<Bucket>,
    /// min, max and sum, when the encoding holds them.
    pub exact: Option<(f64, f64, f64)>,
}

/// Reads the histograms of `tags` from the run's files (the logdir reader
/// only counts them), in file order.
fn read_histograms<'t>(
    run: &Run,
    tags: &BTreeSet<&'t str>,
) -> BTreeMap<&'t str, Vec<HistogramPoint>> {
    let mut found: BTreeMap<&str, Vec<HistogramPoint>> = BTreeMap::new();
    if tags.is_empty() {
        return found;
    }
    for file in &run.files {
        let Ok(reader) = EventReader::open(&file.path) else {
            continue;
        };
        // The logdir reader already read these files: a bad record there
        // was reported; here the reading stops at it.
        for (_, e) in reader.map_while(Result::ok) {
            let Some(event::What::Summary(summary)) = e.what else {
                continue;
            };
            for value in summary.value {
                let Some(&tag) = tags.get(value.tag.as_str()) else {
                    continue;
                };
                let read = match &value.value {
                    Some(Value::Histo(h)) => Some((proto_buckets(h), Some((h.min, h.max, h.sum)))),
                    Some(Value::Tensor(t)) => tensor_buckets(t).map(|b| (b, None)),
                    _ => None,
                };
                if let Some((buckets, exact)) = read {
                    found.entry(tag).or_default().push(HistogramPoint {
                        step: e.step,
                        wall_time: e.wall_time,
                        buckets,
                        exact,
                    });
                }
            }
        }
    }
    found
}

/// A `HistogramProto`'s buckets as TensorBoard's loader converts them
/// (`data_compat`), in f64 where it rounds to f32: the empty buckets at
/// both ends are dropped, then the first bucket left spans from `min` and
/// the last to `max` (the outermost limits can be ±DBL_MAX); inside, bucket
/// i spans from limit i-1 to limit i. None when every bucket is empty.
pub fn proto_buckets(h: &HistogramProto) -> Vec<Bucket> {
    let n = h.bucket.len().min(h.bucket_limit.len());
    let counts = &h.bucket[..n];
    let (Some(start), Some(end)) = (
        counts.iter().position(|&c| c > 0.0),
        counts.iter().rposition(|&c| c > 0.0),
    ) else {
        return Vec::new();
    };
    (start..=end)
        .map(|i| Bucket {
            left: if i == start {
                h.min
            } else {
                h.bucket_limit[i - 1]
            },
            right: if i == end { h.max } else { h.bucket_limit[i] },
            count: counts[i],
        })
        .collect()
}

/// The buckets of the `histograms` plugin's tensor (TF2's encoding): a
/// `[k, 3]` tensor of (left, right, count), in f64 or f32.
pub fn tensor_buckets(t: &TensorProto) -> Option<Vec<Bucket>> {
    let dims: Vec<i64> = t
        .tensor_shape
        .as_ref()?
        .dim
        .iter()
        .map(|d| d.size)
        .collect();
    let k = match dims[..] {
        [k, 3] => usize::try_from(k).ok()?,
        // An empty histogram.
        [0] | [0, _] => 0,
        _ => return None,
    };
    let content = &t.tensor_content;
    let values: Vec<f64> = match DataType::try_from(t.dtype).ok()? {
        DataType::DtDouble if !content.is_empty() => (content.chunks_exact(8))
            .map(|b| f64::from_le_bytes(b.try_into().expect("chunks of 8")))
            .collect(),
        DataType::DtDouble => t.double_val.clone(),
        DataType::DtFloat if !content.is_empty() => (content.chunks_exact(4))
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("chunks of 4"))))
            .collect(),
        DataType::DtFloat => t.float_val.iter().map(|&v| f64::from(v)).collect(),
        _ => return None,
    };
    if values.len() != k.checked_mul(3)? {
        return None;
    }
    Some(
        values
            .chunks_exact(3)
            .map(|b| Bucket {
                left: b[0],
                right: b[1],
                count: b[2],
            })
            .collect(),
    )
}

/// A histogram's summary row.
///
/// - `count`: the sum of the bucket counts.
/// - `min`, `max`, `mean`: exact for the `HistogramProto` encoding (its
///   `min`, `max` and `sum / count`); for the tensor encoding (TF2), which
///   holds only buckets, the left edge of the first non-empty bucket, the
///   right edge of the last, and the mean of the bucket centres weighted by
///   their counts.
/// - `p10`, `p50`, `p90`: from the buckets, by linear interpolation inside
///   a bucket: the q-quantile is where the cumulative count reaches
///   `q * count`, the values of a bucket taken as spread evenly between its
///   edges; then clamped to `[min, max]`.
///
/// A histogram of count 0 has only its count.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: f64,
    pub stats: Option<[f64; 6]>,
}

impl Summary {
    pub fn of(h: &HistogramPoint) -> Summary {
        let count: f64 = h.buckets.iter().map(|b| b.count).sum();
        if count <= 0.0 || !count.is_finite() {
            return Summary { count, stats: None };
        }
        let nonempty = || h.buckets.iter().filter(|b| b.count > 0.0);
        let (min, max, mean) = match h.exact {
            Some((min, max, sum)) => (min, max, sum / count),
            None => {
                let first = nonempty().next().map_or(f64::NAN, |b| b.left);
                let last = nonempty().next_back().map_or(f64::NAN, |b| b.right);
                let weighted: f64 = nonempty().map(|b| b.count * (b.left + b.right) / 2.0).sum();
                (first, last, weighted / count)
            }
        };
        // A bucket's edges can lie beyond the values (a HistogramProto's
        // last non-empty bucket ends at its limit, not at `max`).
        // Not `clamp`, which panics on a NaN or min > max from a damaged file.
        let q = |q| quantile(&h.buckets, count, q).max(min).min(max);
        Summary {
            count,
            stats: Some([min, max, mean, q(0.1), q(0.5), q(0.9)]),
        }
    }

    fn numbers(&self) -> Vec<(&'static str, f64)> {
        let mut numbers = vec![("count", self.count)];
        if let Some(stats) = self.stats {
            let names = ["min", "max", "mean", "p10", "p50", "p90"];
            numbers.extend(names.into_iter().zip(stats));
        }
        numbers
    }
}

/// The q-quantile of buckets holding `count` values in all (see
/// [`Summary`]).
fn quantile(buckets: &[Bucket], count: f64, q: f64) -> f64 {
    let target = q * count;
    let mut below = 0.0;
    for b in buckets.iter().filter(|b| b.count > 0.0) {
        if below + b.count >= target {
            let within = ((target - below) / b.count).clamp(0.0, 1.0);
            return b.left + within * (b.right - b.left);
        }
        below += b.count;
    }
    buckets
        .iter()
        .rfind(|b| b.count > 0.0)
        .map_or(f64::NAN, |b| b.right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(left: f64, right: f64, count: f64) -> Bucket {
        Bucket { left, right, count }
    }

    #[test]
    fn quantiles_interpolate_inside_a_bucket() {
        let buckets = [
            bucket(0.0, 1.0, 0.0),
            bucket(1.0, 2.0, 10.0),
            bucket(2.0, 4.0, 10.0),
        ];
        assert_eq!(quantile(&buckets, 20.0, 0.1), 1.2);
        assert_eq!(quantile(&buckets, 20.0, 0.5), 2.0);
        assert_eq!(quantile(&buckets, 20.0, 0.9), 3.6);
        let h = HistogramPoint {
            step: 0,
            wall_time: 0.0,
            buckets: buckets.to_vec(),
            exact: None,
        };
        let s = Summary::of(&h);
        assert_eq!(s.count, 20.0);
        // min and max from the non-empty buckets, mean from their centres.
        assert_eq!(s.stats, Some([1.0, 4.0, 2.25, 1.2, 2.0, 3.6]));
    }

    #[test]
    fn quantiles_stay_within_min_and_max_and_damaged_numbers_do_not_panic() {
        let mut h = HistogramPoint {
            step: 0,
            wall_time: 0.0,
            buckets: vec![bucket(0.0, 10.0, 4.0), bucket(10.0, 20.0, 0.0)],
            exact: Some((1.0, 3.0, 8.0)),
        };
        assert_eq!(Summary::of(&h).stats, Some([1.0, 3.0, 2.0, 1.0, 3.0, 3.0]));
        for exact in [(f64::NAN, 3.0, 8.0), (5.0, 1.0, 8.0)] {
            h.exact = Some(exact);
            Summary::of(&h);
        }
    }

    #[test]
    fn an_empty_histogram_has_only_its_count() {
        let h = HistogramPoint {
            step: 0,
            wall_time: 0.0,
            buckets: vec![bucket(0.0, 1.0, 0.0)],
            exact: None,
        };
        assert_eq!(Summary::of(&h).numbers(), vec![("count", 0.0)]);
    }

    #[test]
    fn proto_buckets_span_from_min_to_max() {
        let h = HistogramProto {
            min: -1.0,
            max: 3.0,
            num: 4.0,
            sum: 2.0,
            sum_squares: 0.0,
            bucket_limit: vec![-f64::MAX, -2.0, 0.0, 2.0, 4.0, f64::MAX],
            bucket: vec![0.0, 0.0, 1.0, 2.0, 1.0, 0.0],
        };
        let expected = [
            bucket(-1.0, 0.0, 1.0),
            bucket(0.0, 2.0, 2.0),
            bucket(2.0, 3.0, 1.0),
        ];
        assert_eq!(proto_buckets(&h), expected);
        let empty = HistogramProto {
            bucket: vec![0.0; 6],
            ..h
        };
        assert_eq!(proto_buckets(&empty), []);
    }

    #[test]
    fn fields_are_quoted_and_numbers_round_trip() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain/tag"), "plain/tag");
        assert_eq!(csv_number(0.1), "0.1");
        assert_eq!(csv_number(f64::NAN), "nan");
        assert_eq!(csv_number(f64::INFINITY), "inf");
        assert_eq!(csv_number(f64::NEG_INFINITY), "-inf");
        let v = f64::from(0.123_456_79_f32);
        assert_eq!(csv_number(v).parse::<f64>().unwrap(), v);
        assert_eq!(json_number(f64::NAN), "\"NaN\"");
        assert_eq!(json_number(f64::INFINITY), "\"Infinity\"");
        assert_eq!(json_number(f64::NEG_INFINITY), "\"-Infinity\"");
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn rows_in_both_formats() {
        let columns = columns(Histograms::Summary);
        let row = Row {
            run: "r,1",
            tag: "loss",
            kind: "scalar",
            step: 3,
            wall_time: 1.5,
            numbers: vec![("value", f64::NEG_INFINITY)],
        };
        let mut csv = Vec::new();
        write_row(&mut csv, ExportFormat::Csv, columns, &row).unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "\"r,1\",loss,scalar,3,1.5,-inf,,,,,,,\n"
        );
        let mut jsonl = Vec::new();
        write_row(&mut jsonl, ExportFormat::Jsonl, columns, &row).unwrap();
        assert_eq!(
            String::from_utf8(jsonl).unwrap(),
            "{\"run\":\"r,1\",\"tag\":\"loss\",\"kind\":\"scalar\",\"step\":3,\
             \"wall_time\":1.5,\"value\":\"-Infinity\"}\n"
        );
    }

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("gradscope-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        std::fs::write(&path, "before").unwrap();
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err::<(), _>(io::Error::other("stopped"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        write_atomically(&path, |out| out.write_all(b"after")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
