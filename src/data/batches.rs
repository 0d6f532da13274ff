//! Seeded mini-batches: drawn without replacement, reshuffled every epoch.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::Split;

/// Hands out batches of indices into a split. An epoch's last partial batch
/// is dropped, so every batch has exactly `batch_size` distinct images.
pub struct Batcher {
    order: Vec<usize>,
    next: usize,
    batch_size: usize,
    /// `None`: file order, every epoch.
    rng: Option<ChaCha8Rng>,
}

/// A [`Batcher`]'s place in its epochs ([`Batcher::position`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BatcherPosition {
    /// This epoch's order of the images.
    pub order: Vec<usize>,
    /// Where in it the next batch starts.
    pub next: usize,
    /// How far the shuffling RNG has run (in 32-bit words); `None` for
    /// batches in file order.
    pub rng_word: Option<u128>,
}

impl Batcher {
    /// Batches in an order reshuffled every epoch. `batch_size` must be
    /// between 1 and `len`.
    pub fn shuffled(len: usize, batch_size: usize, seed: u64) -> Batcher {
        let mut batcher = Batcher::in_order(len, batch_size);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        batcher.order.shuffle(&mut rng);
        batcher.rng = Some(rng);
        batcher
    }

    /// Batches in file order: images 0..b, b..2b, ...
    pub fn in_order(len: usize, batch_size: usize) -> Batcher {
        assert!(
            (1..=len).contains(&batch_size),
            "batch size {batch_size} for {len} examples"
        );
        Batcher {
            order: (0..len).collect(),
            next: 0,
            batch_size,
            rng: None,
        }
    }

    /// The indices of the next batch.
    pub fn next_indices(&mut self) -> &[usize] {
        if self.next + self.batch_size > self.order.len() {
            if let Some(rng) = &mut self.rng {
                self.order.shuffle(rng);
            }
            self.next = 0;
        }
        let batch = &self.order[self.next..self.next + self.batch_size];
        self.next += self.batch_size;
        batch
    }

    /// Where the batcher is: with the seed it was made with, what
    /// [`restore`](Self::restore) continues from exactly.
    pub fn position(&self) -> BatcherPosition {
        BatcherPosition {
            order: self.order.clone(),
            next: self.next,
            rng_word: self.rng.as_ref().map(ChaCha8Rng::get_word_pos),
        }
    }

    /// Puts a batcher made as the saved one was (same length, batch size
    /// and seed) at `position`; says what does not fit otherwise.
    pub fn restore(&mut self, position: BatcherPosition) -> Result<(), String> {
        let len = self.order.len();
        if position.order.len() != len {
            return Err(format!(
                "its batch order covers {} images, the training set has {len}",
                position.order.len()
            ));
        }
        let mut seen = vec![false; len];
        for &i in &position.order {
            if i >= len || std::mem::replace(&mut seen[i], true) {
                return Err("its batch order is not a permutation of the training set".into());
            }
        }
        if position.next > len {
            return Err(format!(
                "its next batch starts at {}, past the {len} images",
                position.next
            ));
        }
        match (&mut self.rng, position.rng_word) {
            (Some(rng), Some(word)) => rng.set_word_pos(word),
            (None, None) => {}
            (Some(_), None) => return Err("it was taken in file order, not shuffled".into()),
            (None, Some(_)) => return Err("it was shuffled, not taken in file order".into()),
        }
        self.order = position.order;
        self.next = position.next;
        Ok(())
    }

    /// Fills `pixels` (as f32 in [0, 1]) and `labels` with the next batch.
    pub fn next_batch(&mut self, split: &Split, pixels: &mut Vec<f32>, labels: &mut Vec<u32>) {
        pixels.clear();
        labels.clear();
        for &i in self.next_indices() {
            super::extend_scaled(pixels, split.image(i));
            labels.push(u32::from(split.labels[i]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_visits_each_index_once_and_is_reshuffled() {
        let mut b = Batcher::shuffled(10, 3, 7);
        let mut first_epoch: Vec<usize> = (0..3).flat_map(|_| b.next_indices().to_vec()).collect();
        let mut second_epoch: Vec<usize> = (0..3).flat_map(|_| b.next_indices().to_vec()).collect();
        assert_ne!(first_epoch, second_epoch, "order should change per epoch");
        first_epoch.sort();
        first_epoch.dedup();
        second_epoch.sort();
        second_epoch.dedup();
        assert_eq!((first_epoch.len(), second_epoch.len()), (9, 9));
    }

    /// A batcher put at another's position draws the same batches from
    /// there on, across epochs (reshuffles included).
    #[test]
    fn a_restored_batcher_continues_exactly() {
        let mut a = Batcher::shuffled(100, 30, 5);
        for _ in 0..4 {
            a.next_indices();
        }
        let mut b = Batcher::shuffled(100, 30, 5);
        b.restore(a.position()).unwrap();
        for _ in 0..20 {
            assert_eq!(a.next_indices(), b.next_indices());
        }
        let mut wrong = a.position();
        wrong.order[0] = wrong.order[1];
        assert!(b.restore(wrong).unwrap_err().contains("permutation"));
        let in_order = Batcher::in_order(100, 30).position();
        assert!(b.restore(in_order).unwrap_err().contains("file order"));
    }

    #[test]
    fn in_order_takes_file_order_every_epoch() {
        let mut b = Batcher::in_order(5, 2);
        let batches: Vec<Vec<usize>> = (0..4).map(|_| b.next_indices().to_vec()).collect();
        assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn same_seed_same_batches() {
        let mut a = Batcher::shuffled(100, 30, 1);
        let mut b = Batcher::shuffled(100, 30, 1);
        for _ in 0..10 {
            assert_eq!(a.next_indices(), b.next_indices());
        }
    }

    #[test]
    fn pixels_are_scaled_to_unit_range() {
        let split = Split {
            pixels: vec![0, 255, 51, 102],
            labels: vec![3, 4],
            rows: 1,
            cols: 2,
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        Batcher::shuffled(2, 2, 0).next_batch(&split, &mut x, &mut y);
        let mut pairs: Vec<(u32, Vec<f32>)> = y
            .iter()
            .copied()
            .zip(x.chunks(2).map(|c| c.to_vec()))
            .collect();
        pairs.sort_by_key(|p| p.0);
        assert_eq!(pairs[0], (3, vec![0.0, 1.0]));
        assert_eq!(pairs[1], (4, vec![0.2, 0.4]));
    }
}
