//! What [`SummaryWriter`](crate::SummaryWriter)'s methods take: any
//! primitive number as a value ([`ScalarValue`]) or a step ([`Step`]),
//! `(name, number)` pairs ([`NamedScalar`]), and slices or iterators of
//! numbers for histograms ([`HistogramValue`], [`HistogramValues`]).
//!
//! The traits are sealed: they are implemented here for std's types, so
//! that a loop index, a `len()` or a `Vec` goes in without a cast or a copy,
//! and a later release can add methods without breaking anyone.

use std::fmt;

use crate::buffer_pool::F32_BUFFERS;
use crate::proto::summary;

mod sealed {
    pub trait Sealed {}
    impl<T: Sealed + ?Sized> Sealed for &T {}
}

/// A number [`add_scalar`](crate::SummaryWriter::add_scalar) and friends
/// take: every primitive integer and float (and `bool`, as 0 or 1), or a
/// reference to one. TensorBoard stores scalars as `f32`, so the value is
/// rounded to the nearest `f32`.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
/// let items = vec!["a", "b", "c"];
/// for step in 0..items.len() {
///     writer.add_scalar("items", items.len(), step)?; // usize, usize
///     writer.add_scalar("bytes", 1u64 << 40, step)?;
///     writer.add_scalar("loss", 0.5f32, step)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number a scalar summary takes",
    note = "every primitive integer and float is, and a reference to one"
)]
pub trait ScalarValue: Copy + sealed::Sealed {
    /// The value as TensorBoard stores it: the nearest `f32` (±infinity
    /// beyond `f32`'s range).
    fn to_f32(self) -> f32;
}

/// A step: any primitive integer, so that a loop index of any type goes in
/// without `as i64`. Event files store steps as `i64`; a step beyond that
/// range (such as `u64::MAX`) is a
/// [`SummaryError::InvalidArgument`](crate::SummaryError::InvalidArgument)
/// naming the argument `step`, never a wrapped-around number.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
/// let batches = [0.9, 0.7, 0.4];
/// for (step, loss) in batches.iter().enumerate() {
///     writer.add_scalar("loss", *loss, step)?; // step: usize
/// }
/// writer.add_scalar("tokens", 1.0, 3u64)?;
/// writer.add_scalar("tokens", 1.0, 4i32)?;
/// let err = writer.add_scalar("tokens", 1.0, u64::MAX).unwrap_err();
/// assert!(err.to_string().contains("argument `step`"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a step",
    note = "a step is any primitive integer (stored as i64)"
)]
pub trait Step: Copy + fmt::Display + sealed::Sealed {
    /// The step as an event file stores it, or `None` beyond `i64`'s range.
    fn to_i64(self) -> Option<i64>;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}

        impl ScalarValue for $t {
            #[inline]
            fn to_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}
numbers!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

macro_rules! steps {
    ($($t:ty),*) => {$(
        impl Step for $t {
            #[inline]
            fn to_i64(self) -> Option<i64> {
                i64::try_from(self).ok()
            }
        }
    )*};
}
steps!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl sealed::Sealed for bool {}

/// As `Into<f64>` has it: `false` is 0, `true` is 1.
impl ScalarValue for bool {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(u8::from(self))
    }
}

/// For the values of a map iterated by reference, or `slice.iter()`.
impl<T: ScalarValue> ScalarValue for &T {
    #[inline]
    fn to_f32(self) -> f32 {
        (*self).to_f32()
    }
}

/// A `(name, number)` pair of
/// [`add_scalars`](crate::SummaryWriter::add_scalars) and
/// [`add_hparams`](crate::SummaryWriter::add_hparams)' metrics: a tuple of
/// anything string-like (`&str`, `String`, `&String`) and a
/// [`ScalarValue`], or a reference to such a tuple. So those methods take
/// an array or slice of tuples, a `Vec`, a `HashMap` or `BTreeMap` (by
/// value or by reference) or an iterator.
///
/// ```
/// use std::collections::HashMap;
/// # let dir = tempfile::tempdir()?;
/// let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
/// writer.add_scalars("loss", &[("train", 0.5), ("test", 0.7)], 0)?;
/// writer.add_scalars("count", [("seen", 3usize), ("kept", 2)], 0)?;
/// let owned: Vec<(String, f32)> = vec![("train".into(), 0.4)];
/// writer.add_scalars("loss", owned, 1)?;
/// let by_name = HashMap::from([("train", 0.3), ("test", 0.6)]);
/// writer.add_scalars("loss", &by_name, 2)?;
/// let accuracy = [0.8f64, 0.9];
/// writer.add_scalars(
///     "accuracy",
///     accuracy.iter().enumerate().map(|(i, a)| (format!("fold{i}"), a)),
///     2,
/// )?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a (name, number) pair",
    note = "a pair is a tuple `(impl AsRef<str>, number)` or a reference to one"
)]
pub trait NamedScalar: sealed::Sealed {
    /// The series or metric name.
    fn name(&self) -> &str;
    /// The value as TensorBoard stores it (see [`ScalarValue::to_f32`]).
    fn value(&self) -> f32;
}

impl<N: AsRef<str>, V: ScalarValue> sealed::Sealed for (N, V) {}

impl<N: AsRef<str>, V: ScalarValue> NamedScalar for (N, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }

    fn value(&self) -> f32 {
        self.1.to_f32()
    }
}

impl<T: NamedScalar + ?Sized> NamedScalar for &T {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn value(&self) -> f32 {
        (**self).value()
    }
}

/// A number a histogram is made of: every primitive integer and float, or
/// a reference to one. Values are bucketed as `f32` (TensorBoard draws
/// histograms in float32 anyway); values beyond `f32`'s range count as
/// infinite and are left out.
pub trait HistogramValue: ScalarValue {
    /// The histogram summary of `values` and how many were left out as
    /// NaN or infinite.
    fn histogram(tag: &str, values: &[Self]) -> (summary::Value, usize);

    /// `values` copied for a writer's background thread.
    #[doc(hidden)]
    fn copied(values: &[Self]) -> OwnedValues;

    /// `values` handed to a writer's background thread: moved, not copied,
    /// where the thread buckets this type as it is.
    #[doc(hidden)]
    fn moved(values: Vec<Self>) -> OwnedValues;
}

impl HistogramValue for f32 {
    /// The values as they are: no copy.
    fn histogram(tag: &str, values: &[f32]) -> (summary::Value, usize) {
        crate::summary::histogram(tag, values)
    }

    /// Copied into a pooled buffer, which the writer's thread hands back.
    fn copied(values: &[f32]) -> OwnedValues {
        OwnedValues::Pooled(F32_BUFFERS.copy(values))
    }

    fn moved(values: Vec<f32>) -> OwnedValues {
        OwnedValues::F32(values)
    }
}

impl HistogramValue for f64 {
    fn histogram(tag: &str, values: &[f64]) -> (summary::Value, usize) {
        narrowed(tag, values.iter().copied())
    }

    /// Copied as `f64`s (a memcpy); narrowed on the background thread.
    fn copied(values: &[f64]) -> OwnedValues {
        OwnedValues::F64(values.to_vec())
    }

    fn moved(values: Vec<f64>) -> OwnedValues {
        OwnedValues::F64(values)
    }
}

macro_rules! converted_histogram {
    ($($t:ty),*) => {$(
        impl HistogramValue for $t {
            fn histogram(tag: &str, values: &[$t]) -> (summary::Value, usize) {
                narrowed(tag, values.iter().copied())
            }

            fn copied(values: &[$t]) -> OwnedValues {
                OwnedValues::F32(values.iter().map(|&v| v.to_f32()).collect())
            }

            fn moved(values: Vec<$t>) -> OwnedValues {
                Self::copied(&values)
            }
        }
    )*};
}
converted_histogram!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl<T: HistogramValue> HistogramValue for &T {
    fn histogram(tag: &str, values: &[&T]) -> (summary::Value, usize) {
        narrowed(tag, values.iter().copied())
    }

    fn copied(values: &[Self]) -> OwnedValues {
        OwnedValues::F32(values.iter().map(|v| v.to_f32()).collect())
    }

    fn moved(values: Vec<Self>) -> OwnedValues {
        Self::copied(&values)
    }
}

/// Histogram values owned by a [`SummaryWriter`](crate::SummaryWriter)'s
/// background thread, which buckets them. `f64`s stay `f64` so that a
/// `Vec<f64>` moves there without a copy.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValues {
    /// Bucketed as they are.
    F32(Vec<f32>),
    /// A copy in a [`crate::buffer_pool`] buffer, bucketed as it is and
    /// then handed back.
    Pooled(Vec<f32>),
    /// Narrowed to `f32` first, as the caller's thread would.
    F64(Vec<f64>),
}

impl OwnedValues {
    /// How many values bucketing will leave out as NaN or infinite (an
    /// `f64` beyond `f32`'s range counts as infinite): what `add_histogram`
    /// returns, counted on the caller's thread in one vectorised pass.
    pub(crate) fn non_finite(&self) -> usize {
        match self {
            OwnedValues::F32(v) | OwnedValues::Pooled(v) => crate::histogram::count_non_finite(v),
            OwnedValues::F64(v) => v.iter().filter(|&&x| !(x as f32).is_finite()).count(),
        }
    }

    /// The histogram summary under `tag`: what
    /// [`HistogramValues::histogram`] makes of the same values.
    pub(crate) fn histogram(&self, tag: &str) -> summary::Value {
        match self {
            OwnedValues::F32(v) | OwnedValues::Pooled(v) => crate::summary::histogram(tag, v).0,
            OwnedValues::F64(v) => narrowed(tag, v.iter().copied()).0,
        }
    }

    /// Hands a pooled buffer, bucketed, back for the next copy to reuse.
    /// (A caller's own `Vec` is freed: a loop that moves its values in
    /// never takes from the pool.)
    pub(crate) fn recycle(self) {
        if let OwnedValues::Pooled(v) = self {
            F32_BUFFERS.give_back(v);
        }
    }
}

/// Bucketing works on an `f32` slice: other values are converted into one.
fn narrowed<T: ScalarValue>(tag: &str, values: impl Iterator<Item = T>) -> (summary::Value, usize) {
    let values: Vec<f32> = values.map(ScalarValue::to_f32).collect();
    crate::summary::histogram(tag, &values)
}

/// The values of [`add_histogram`](crate::SummaryWriter::add_histogram): the
/// iterator a slice, `Vec` or array of [`HistogramValue`]s turns into
/// (`&[f32]`, `&Vec<f64>`, `[i32; 4]`, ...), a range, or one of std's
/// iterator adapters over such values (`map`, `filter`, `copied`, `chain`,
/// `take`, ...).
///
/// Why the trait is on iterator types: an `&[f32]` slice must reach the
/// vectorised bucketing as it is, with no copy, and without specialization
/// a blanket impl over all iterators would rule out an impl for slices. So
/// `add_histogram` takes any `IntoIterator` whose iterator is one of these:
/// a slice's, a `Vec`'s or an array's iterator hands over its remaining
/// slice, and the others are collected into `f32`s. Another iterator goes
/// in through one of the adapters (such as `.fuse()`) or collected.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
/// let weights: Vec<f32> = vec![0.1, -0.2, 0.3];
/// writer.add_histogram("weights", &weights, 0)?; // no copy
/// writer.add_histogram("weights_f64", &vec![0.1f64, 0.2], 0)?;
/// writer.add_histogram("labels", &[3u8, 1, 4, 1, 5][..], 0)?;
/// writer.add_histogram("ids", [7i32, -2, 9], 0)?;
/// writer.add_histogram("abs", weights.iter().map(|w| w.abs()), 0)?;
/// writer.add_histogram("positive", weights.iter().filter(|w| **w > 0.0), 0)?;
/// writer.add_histogram("range", 0..100, 0)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an iterator of histogram values add_histogram takes",
    note = "pass a slice, Vec or array of numbers, a range, or a std adapter over numbers (such as `.map(..)` or `.fuse()`); or collect the values into a Vec"
)]
pub trait HistogramValues: sealed::Sealed {
    /// The histogram summary of the values and how many were left out as
    /// NaN or infinite.
    fn histogram(self, tag: &str) -> (summary::Value, usize);

    /// The values owned, for a writer's background thread: a `Vec`'s
    /// moved, a slice's copied, an adapter's collected as `f32`s.
    #[doc(hidden)]
    fn into_owned(self) -> OwnedValues;
}

macro_rules! slice_iterators {
    ($([$($generics:tt)*] $iter:ty => |$it:ident| $owned:expr),* $(,)?) => {$(
        impl<$($generics)*> sealed::Sealed for $iter {}

        impl<$($generics)*> HistogramValues for $iter {
            fn histogram(self, tag: &str) -> (summary::Value, usize) {
                T::histogram(tag, self.as_slice())
            }

            fn into_owned(self) -> OwnedValues {
                let $it = self;
                $owned
            }
        }
    )*};
}
slice_iterators!(
    ['a, T: HistogramValue] std::slice::Iter<'a, T> => |it| T::copied(it.as_slice()),
    // Collecting an `IntoIter` that has not been advanced gives back its
    // `Vec`, buffer and all: no copy.
    [T: HistogramValue] std::vec::IntoIter<T> => |it| T::moved(it.collect()),
    [T: HistogramValue, const N: usize] std::array::IntoIter<T, N> => |it| T::copied(it.as_slice()),
);

macro_rules! adapters {
    ($([$($generics:tt)*] $iter:ty $(where { $($bound:tt)* })?),* $(,)?) => {$(
        impl<$($generics)*> sealed::Sealed for $iter
        where
            $iter: Iterator,
            <$iter as Iterator>::Item: HistogramValue,
            $($($bound)*)?
        {}

        impl<$($generics)*> HistogramValues for $iter
        where
            $iter: Iterator,
            <$iter as Iterator>::Item: HistogramValue,
            $($($bound)*)?
        {
            fn histogram(self, tag: &str) -> (summary::Value, usize) {
                narrowed(tag, self)
            }

            fn into_owned(self) -> OwnedValues {
                OwnedValues::F32(self.map(ScalarValue::to_f32).collect())
            }
        }
    )*};
}
adapters!(
    [T] std::ops::Range<T>,
    [T] std::ops::RangeInclusive<T>,
    [I, F] std::iter::Map<I, F>,
    [I, P] std::iter::Filter<I, P>,
    [I, F] std::iter::FilterMap<I, F>,
    [I] std::iter::Copied<I>,
    [I] std::iter::Cloned<I>,
    [A, B] std::iter::Chain<A, B>,
    [I] std::iter::Take<I>,
    [I] std::iter::Skip<I>,
    [I] std::iter::StepBy<I>,
    [I] std::iter::Rev<I>,
    [I] std::iter::Fuse<I>,
    [I, F] std::iter::Inspect<I, F>,
    [I, P] std::iter::TakeWhile<I, P>,
    [I, P] std::iter::SkipWhile<I, P>,
    [I, P] std::iter::MapWhile<I, P>,
    [I: Iterator] std::iter::Peekable<I>,
    [I, U: IntoIterator, F] std::iter::FlatMap<I, U, F>,
    [I] std::iter::Flatten<I> where { I: Iterator, I::Item: IntoIterator },
    [T] std::iter::Empty<T>,
    [T] std::iter::Once<T>,
    [F] std::iter::FromFn<F>,
    ['a, T] std::collections::vec_deque::Iter<'a, T>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vec_given_by_value_is_moved_not_copied() {
        let f32s = vec![1.0f32; 1000];
        let at = f32s.as_ptr();
        let OwnedValues::F32(owned) = f32s.into_iter().into_owned() else {
            panic!("f32s stay f32")
        };
        assert_eq!(owned.as_ptr(), at, "the same buffer");
        let f64s = vec![1.0f64; 1000];
        let at = f64s.as_ptr();
        let OwnedValues::F64(owned) = f64s.into_iter().into_owned() else {
            panic!("f64s stay f64")
        };
        assert_eq!(owned.as_ptr(), at, "the same buffer");
    }

    #[test]
    fn owned_values_bucket_as_the_borrowed_ones_do() {
        let f64s = [0.5f64, -1e39, f64::NAN, 3.0, 1e-3];
        let narrowed: Vec<f32> = f64s.iter().map(|&x| x as f32).collect();
        let want = crate::summary::histogram("h", &narrowed);
        for owned in [
            f64s.iter().into_owned(),
            Vec::from(f64s).into_iter().into_owned(),
            narrowed.iter().into_owned(),
            f64s.iter().map(|x| x * 1.0).into_owned(),
        ] {
            assert_eq!((owned.histogram("h"), owned.non_finite()), want);
        }
        let ints = [3i32, -7, 0];
        assert_eq!(
            ints.iter().into_owned(),
            OwnedValues::F32(vec![3.0, -7.0, 0.0])
        );
        assert_eq!(ints.into_iter().into_owned().non_finite(), 0);
    }
}
