//! What both examples share: MNIST's IDX files, seeded batches and init,
//! the activations by name and accuracy. Plain Rust and candle; nothing
//! here is gradscope's.

use std::error::Error;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use candle_core::{Device, Module, Tensor};

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Pixels per image.
pub const PIXELS: usize = 28 * 28;

/// One split: images scaled to [0, 1], one row of [`PIXELS`] per image.
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
}

/// MNIST's training and test splits, from the four uncompressed IDX files
/// in `dir` (`scripts/fetch-data.sh` at the repository root fetches them).
pub fn load(dir: &Path) -> Result<(Split, Split)> {
    let split = |prefix: &str| -> Result<Split> {
        let images = read_idx(&dir.join(format!("{prefix}-images-idx3-ubyte")), 2051)?;
        let labels = read_idx(&dir.join(format!("{prefix}-labels-idx1-ubyte")), 2049)?;
        if images.len() != labels.len() * PIXELS {
            return Err(format!(
                "{}: {} image bytes for {} labels of 28x28 images",
                dir.display(),
                images.len(),
                labels.len()
            )
            .into());
        }
        Ok(Split {
            images: images.iter().map(|&p| f32::from(p) / 255.0).collect(),
            labels: labels.iter().map(|&l| u32::from(l)).collect(),
        })
    };
    Ok((split("train")?, split("t10k")?))
}

/// The data of an IDX file of bytes whose header has the magic `magic`.
fn read_idx(path: &Path, magic: u32) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e}; fetch MNIST with scripts/fetch-data.sh or pass --data-dir",
            path.display()
        )
    })?;
    let word = |i: usize| {
        let b = bytes.get(4 * i..4 * i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let dims = (magic & 0xff) as usize;
    if word(0) != Some(magic as usize) {
        return Err(format!("{}: not an IDX file with magic {magic}", path.display()).into());
    }
    let header = 4 * (1 + dims);
    let count: usize = (1..=dims).map(|i| word(i).unwrap_or(0)).product();
    match bytes.get(header..) {
        Some(data) if data.len() == count => Ok(data.to_vec()),
        _ => Err(format!("{}: cut short or too long", path.display()).into()),
    }
}

/// splitmix64: a seeded generator in a few lines (candle's CPU generator
/// cannot be seeded), so a run is the same every time.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [low, high).
    #[allow(dead_code)] // candle_cnn keeps candle-nn's own init
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
    }
}

/// Batches of a split in a new random order each epoch.
pub struct Batches {
    order: Vec<usize>,
    next: usize,
    size: usize,
    rng: Rng,
}

impl Batches {
    pub fn new(len: usize, size: usize, seed: u64) -> Batches {
        Batches {
            order: (0..len).collect(),
            next: len, // shuffle before the first batch
            size: size.clamp(1, len.max(1)),
            rng: Rng::new(seed),
        }
    }

    /// The next batch's images (`batch x 784`) and labels.
    pub fn next(&mut self, split: &Split, device: &Device) -> Result<(Tensor, Tensor)> {
        if self.next + self.size > self.order.len() {
            for i in (1..self.order.len()).rev() {
                let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
                self.order.swap(i, j);
            }
            self.next = 0;
        }
        let rows = &self.order[self.next..self.next + self.size];
        self.next += self.size;
        let mut images = Vec::with_capacity(rows.len() * PIXELS);
        for &r in rows {
            images.extend_from_slice(&split.images[r * PIXELS..(r + 1) * PIXELS]);
        }
        let labels: Vec<u32> = rows.iter().map(|&r| split.labels[r]).collect();
        Ok((
            Tensor::from_vec(images, (rows.len(), PIXELS), device)?,
            Tensor::from_vec(labels, rows.len(), device)?,
        ))
    }
}

/// The fraction of `split` whose largest logit is the label, 1000 images
/// at a time.
pub fn accuracy(net: &impl Module, split: &Split, device: &Device) -> Result<f32> {
    let mut right = 0;
    let chunks = split
        .images
        .chunks(1000 * PIXELS)
        .zip(split.labels.chunks(1000));
    for (images, labels) in chunks {
        let x = Tensor::from_slice(images, (labels.len(), PIXELS), device)?;
        let predicted = net.forward(&x)?.argmax(1)?.to_vec1::<u32>()?;
        right += predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    }
    Ok(right as f32 / split.len().max(1) as f32)
}

/// The hidden layers' non-linearity, by the names the trainer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Relu,
    LeakyRelu,
    Tanh,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, 0.2),
            Activation::Tanh => x.tanh(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Tanh => "tanh",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Activation, String> {
        let all = [
            Activation::Sigmoid,
            Activation::Relu,
            Activation::LeakyRelu,
            Activation::Tanh,
        ];
        all.into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("expected sigmoid, relu, leaky_relu or tanh, got {s:?}"))
    }
}
