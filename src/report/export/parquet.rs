//! `export --format parquet`: the rows as one Parquet file, through the
//! Arrow project's `parquet` crate (its column writers; no Arrow arrays,
//! no compression codecs, which keeps the build small).
//!
//! Columns: `run`, `tag`, `kind` (UTF-8 strings), `step` (int64),
//! `wall_time` (double), then the mode's numbers as optional doubles, null
//! where a number does not apply to the row. Non-finite numbers are stored
//! as they are (IEEE NaN and infinities).

use std::io::{self, Write};
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::Row;

/// Rows buffered per row group: enough for large pages, bounded memory.
const ROW_GROUP: usize = 64 * 1024;

/// Rows collected by column, written a row group at a time.
pub struct ParquetRows<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    numbers: &'static [&'static str],
    run: Vec<ByteArray>,
    tag: Vec<ByteArray>,
    kind: Vec<ByteArray>,
    step: Vec<i64>,
    wall_time: Vec<f64>,
    /// Per number column: the values present, and each row's definition
    /// level (1: present, 0: null).
    values: Vec<(Vec<f64>, Vec<i16>)>,
}

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e.to_string())
}

impl<W: Write + Send> ParquetRows<W> {
    /// A file in `out` with the five leading columns and `numbers`.
    pub fn new(out: W, numbers: &'static [&'static str]) -> io::Result<ParquetRows<W>> {
        let schema = Arc::new(schema(numbers).map_err(to_io)?);
        let properties = Arc::new(WriterProperties::builder().build());
        let writer = SerializedFileWriter::new(out, schema, properties).map_err(to_io)?;
        Ok(ParquetRows {
            writer,
            numbers,
            run: Vec::new(),
            tag: Vec::new(),
            kind: Vec::new(),
            step: Vec::new(),
            wall_time: Vec::new(),
            values: numbers.iter().map(|_| (Vec::new(), Vec::new())).collect(),
        })
    }

    /// Adds `row`, writing a row group when enough are held.
    pub fn push(&mut self, row: &Row) -> io::Result<()> {
        self.run.push(ByteArray::from(row.run));
        self.tag.push(ByteArray::from(row.tag));
        self.kind.push(ByteArray::from(row.kind));
        self.step.push(row.step);
        self.wall_time.push(row.wall_time);
        for (column, (values, levels)) in self.numbers.iter().zip(&mut self.values) {
            match row.numbers.iter().find(|(c, _)| c == column) {
                Some(&(_, v)) => {
                    values.push(v);
                    levels.push(1);
                }
                None => levels.push(0),
            }
        }
        if self.step.len() >= ROW_GROUP {
            self.write_group()?;
        }
        Ok(())
    }

    /// Writes the rows held and the file's footer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_group()?;
        self.writer.into_inner().map_err(to_io)
    }

    fn write_group(&mut self) -> io::Result<()> {
        if self.step.is_empty() {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(to_io)?;
        let mut strings = [&mut self.run, &mut self.tag, &mut self.kind].into_iter();
        let mut numbers = self.values.iter_mut();
        let mut index = 0;
        while let Some(mut column) = group.next_column().map_err(to_io)? {
            // The schema's order: three strings, step, wall_time, numbers.
            match index {
                0..=2 => {
                    let values = strings.next().expect("three string columns");
                    let w = column.typed::<ByteArrayType>();
                    w.write_batch(values, None, None).map_err(to_io)?;
                    values.clear();
                }
                3 => {
                    let w = column.typed::<Int64Type>();
                    w.write_batch(&self.step, None, None).map_err(to_io)?;
                    self.step.clear();
                }
                4 => {
                    let w = column.typed::<DoubleType>();
                    w.write_batch(&self.wall_time, None, None).map_err(to_io)?;
                    self.wall_time.clear();
                }
                _ => {
                    let (values, levels) = numbers.next().expect("a column per number");
                    let w = column.typed::<DoubleType>();
                    w.write_batch(values, Some(levels), None).map_err(to_io)?;
                    values.clear();
                    levels.clear();
                }
            }
            column.close().map_err(to_io)?;
            index += 1;
        }
        group.close().map_err(to_io)?;
        Ok(())
    }
}

/// The file's schema: the leading columns required, the numbers optional.
fn schema(numbers: &[&str]) -> parquet::errors::Result<Type> {
    use parquet::basic::{LogicalType, Repetition, Type as Physical};
    let string = |name: &str| {
        Type::primitive_type_builder(name, Physical::BYTE_ARRAY)
            .with_repetition(Repetition::REQUIRED)
            .with_logical_type(Some(LogicalType::String))
            .build()
    };
    let number = |name: &str, physical, repetition| {
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .build()
    };
    let mut fields = vec![
        string("run")?,
        string("tag")?,
        string("kind")?,
        number("step", Physical::INT64, Repetition::REQUIRED)?,
        number("wall_time", Physical::DOUBLE, Repetition::REQUIRED)?,
    ];
    for name in numbers {
        fields.push(number(name, Physical::DOUBLE, Repetition::OPTIONAL)?);
    }
    Type::group_type_builder("points")
        .with_fields(fields.into_iter().map(Arc::new).collect())
        .build()
}
