//! [`BufferPool`]: the buffers that `f32` slices are copied into for a
//! background writer's thread, handed back once bucketed so that the next
//! copy reuses their memory.
//!
//! Why: a loop that logs a layer's weights every step copies them for the
//! writer's thread, which frees the copy. Memory freed on another thread
//! comes back to the allocating one late, so each copy landed in fresh
//! pages that the kernel first zeroes. `cargo bench -p
//! gradscope-tensorboard --bench background`: an `add_histogram` of a
//! 10,000-value slice cost its caller 4.9 µs with a new buffer each call
//! against 2.1 µs with pooled ones. Buffers are reused oldest first: the
//! oldest is the least likely to still sit in the writer thread's cache,
//! which a write from the caller's core must first take back (in the
//! trainer, 10-11 µs a logged step against 18-26 µs newest first).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Free `f32` buffers by size class: class `k` holds buffers with room
/// for at least `2^(k + 10)` values, so any of them fits a copy of that
/// many. Small buffers are not kept (a small allocation is cheap), nor more
/// than [`MAX_KEPT_BYTES`] in all.
pub(crate) struct BufferPool {
    classes: [Mutex<VecDeque<Vec<f32>>>; CLASSES],
    kept_bytes: AtomicUsize,
}

/// Buffers for fewer values are allocated, not pooled.
const MIN_VALUES: usize = 1 << 10;
const FIRST_CLASS: u32 = MIN_VALUES.trailing_zeros();
/// Size classes from 2^10 to 2^29 values; larger buffers are not kept.
const CLASSES: usize = 20;
/// What the pool keeps at most: 16 MiB, some 250 logged steps of the
/// default network, which a writer queue of 256 steps can hold in flight.
const MAX_KEPT_BYTES: usize = 16 << 20;

/// The process's pool, shared by every writer as the allocator is.
pub(crate) static F32_BUFFERS: BufferPool = BufferPool::new();

impl BufferPool {
    const fn new() -> BufferPool {
        BufferPool {
            classes: [const { Mutex::new(VecDeque::new()) }; CLASSES],
            kept_bytes: AtomicUsize::new(0),
        }
    }

    /// A copy of `values`, in a pooled buffer where one fits.
    pub(crate) fn copy(&self, values: &[f32]) -> Vec<f32> {
        let mut buffer = match class_to_take(values.len()) {
            Some(class) => match lock(&self.classes[class]).pop_front() {
                Some(buffer) => {
                    self.kept_bytes.fetch_sub(bytes(&buffer), Ordering::Relaxed);
                    buffer
                }
                // Rounded up to its class, so that it goes back there.
                None => Vec::with_capacity(1 << (class as u32 + FIRST_CLASS)),
            },
            None => Vec::with_capacity(values.len()),
        };
        buffer.extend_from_slice(values);
        buffer
    }

    /// Takes `buffer` back for a later [`copy`](Self::copy); one too small,
    /// too large, or beyond the pool's bound is freed.
    pub(crate) fn give_back(&self, mut buffer: Vec<f32>) {
        let Some(class) = class_to_keep(buffer.capacity()) else {
            return;
        };
        let size = bytes(&buffer);
        if self.kept_bytes.fetch_add(size, Ordering::Relaxed) + size > MAX_KEPT_BYTES {
            self.kept_bytes.fetch_sub(size, Ordering::Relaxed);
            return;
        }
        buffer.clear();
        lock(&self.classes[class]).push_back(buffer);
    }
}

/// The class whose buffers all fit `len` values: `ceil(log2(len))`.
fn class_to_take(len: usize) -> Option<usize> {
    if len < MIN_VALUES {
        return None;
    }
    let class = (len.next_power_of_two().trailing_zeros() - FIRST_CLASS) as usize;
    (class < CLASSES).then_some(class)
}

/// The class a buffer of `capacity` goes to: `floor(log2(capacity))`.
fn class_to_keep(capacity: usize) -> Option<usize> {
    if capacity < MIN_VALUES {
        return None;
    }
    let class = (capacity.ilog2() - FIRST_CLASS) as usize;
    (class < CLASSES).then_some(class)
}

fn bytes(buffer: &Vec<f32>) -> usize {
    buffer.capacity() * size_of::<f32>()
}

/// The lock, also after a panic elsewhere: a list of free buffers is whole
/// at every point.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(pool: &BufferPool) -> usize {
        pool.kept_bytes.load(Ordering::Relaxed)
    }

    #[test]
    fn a_buffer_given_back_is_reused_by_a_copy_it_fits() {
        let pool = BufferPool::new();
        let values: Vec<f32> = (0..7840).map(|i| i as f32).collect();
        let first = pool.copy(&values);
        assert_eq!(first, values);
        assert_eq!(first.capacity(), 8192, "rounded up to its class");
        let at = first.as_ptr();
        pool.give_back(first);
        assert_eq!(kept(&pool), 8192 * 4);
        // Any copy of 4097 to 8192 values fits it.
        let again = pool.copy(&values[..5000]);
        assert_eq!(again.as_ptr(), at, "the same memory");
        assert_eq!(again, &values[..5000]);
        assert_eq!(kept(&pool), 0);
        // A larger copy does not take a buffer too small for it.
        pool.give_back(again);
        let larger = pool.copy(&[1.0; 9000]);
        assert_ne!(larger.as_ptr(), at);
        assert_eq!(larger.capacity(), 16384);
    }

    #[test]
    fn the_oldest_buffer_is_reused_first() {
        let pool = BufferPool::new();
        let (a, b) = (pool.copy(&[1.0; 2000]), pool.copy(&[2.0; 2000]));
        let (at_a, at_b) = (a.as_ptr(), b.as_ptr());
        pool.give_back(a);
        pool.give_back(b);
        let (c, d) = (pool.copy(&[3.0; 2000]), pool.copy(&[4.0; 2000]));
        assert_eq!((c.as_ptr(), d.as_ptr()), (at_a, at_b));
    }

    #[test]
    fn small_buffers_and_those_beyond_the_bound_are_freed() {
        let pool = BufferPool::new();
        pool.give_back(vec![0.0; 100]);
        assert_eq!(kept(&pool), 0);
        assert_eq!(pool.copy(&[1.0, 2.0]), [1.0, 2.0]);
        // A buffer of odd capacity goes to the class below it.
        pool.give_back(Vec::with_capacity(3000));
        assert_eq!(lock(&pool.classes[1]).len(), 1);
        let big = MAX_KEPT_BYTES / 4 / 2;
        pool.give_back(Vec::with_capacity(big));
        pool.give_back(Vec::with_capacity(big));
        assert_eq!(
            kept(&pool),
            3000 * 4 + big * 4,
            "the second would pass the bound"
        );
    }

    #[test]
    fn classes_fit_what_they_hold() {
        for len in [1024, 1025, 4096, 7840, 8192, 1 << 20] {
            let take = class_to_take(len).unwrap();
            let capacity = 1usize << (take as u32 + FIRST_CLASS);
            assert!(capacity >= len);
            assert_eq!(class_to_keep(capacity), Some(take));
        }
        assert_eq!(class_to_take(1023), None);
        assert_eq!(class_to_take(1 << 40), None);
        assert_eq!(class_to_keep(usize::MAX), None);
    }
}
