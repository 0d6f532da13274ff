//! Tensor data on the CPU, borrowed rather than copied: the fused ops
//! ([`crate::model::activation`], [`crate::model::dense`],
//! [`crate::train::loss`], [`mod@crate::train::adam`]) read their storages
//! through [`contiguous`], and the training loop reads gradients and weights
//! through [`with_f32`] without the copy `to_vec1` makes.

use candle_core::{bail, CpuStorage, Layout, Result, Storage, Tensor, WithDType};

/// The data of a custom op's operand as a `T` slice, or an error naming the
/// op: these ops support one dtype each and contiguous operands only.
pub fn contiguous<'a, T: WithDType>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<&'a [T]> {
    let Ok(data) = storage.as_slice::<T>() else {
        bail!("{op}: expected {:?} data", T::DTYPE)
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: operands must be contiguous"),
    }
}

/// [`contiguous`] for an in-place op's f32 destination.
pub fn contiguous_mut<'a>(
    op: &str,
    storage: &'a mut CpuStorage,
    layout: &Layout,
) -> Result<&'a mut [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: expected F32 data")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => bail!("{op}: operands must be contiguous"),
    }
}

/// Calls `f` with the f32 values of `t` in row-major order: borrowed in
/// place for a contiguous f32 tensor on the CPU (the common case: weights
/// and gradients), copied out otherwise.
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        {
            return Ok(f(&data[start..end]));
        }
    }
    Ok(f(&t.flatten_all()?.to_vec1::<f32>()?))
}

/// Replaces the contents of `out` with the f32 values of `t`, reusing its
/// allocation.
pub fn copy_f32(t: &Tensor, out: &mut Vec<f32>) -> Result<()> {
    with_f32(t, |values| {
        out.clear();
        out.extend_from_slice(values);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn contiguous_and_strided_tensors_read_the_same() {
        let t = Tensor::new(&[[1f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &Device::Cpu).unwrap();
        let mut out = vec![9.0; 10];
        copy_f32(&t, &mut out).unwrap();
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // A transposed view is not contiguous: copied out in its own order.
        copy_f32(&t.t().unwrap(), &mut out).unwrap();
        assert_eq!(out, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let sum = with_f32(&t.narrow(1, 1, 2).unwrap(), |v| v.iter().sum::<f32>()).unwrap();
        assert_eq!(sum, 2.0 + 3.0 + 5.0 + 6.0);
    }
}
