//! Initial kernels, drawn from our own seeded RNG (candle's CPU RNG cannot
//! be seeded). The schemes and their constants follow Keras' initializers,
//! the defaults of the TensorFlow code the experiment comes from.

use std::fmt;

use rand::distr::{Distribution, Uniform};
use rand::Rng;
use rand_distr::StandardNormal;

/// How a kernel of `fan_in × fan_out` is drawn. Biases start at zero, but
/// for the recurrent networks under [`Init::TorchUniform`] (see
/// [`crate::model::recurrent`] for which scheme applies to which matrix
/// there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Init {
    /// U(±√(6 / (fan_in + fan_out))): TensorFlow's dense default.
    GlorotUniform,
    /// Truncated normal, σ = √(2 / (fan_in + fan_out)).
    GlorotNormal,
    /// U(±√(6 / fan_in)), for ReLU-family activations.
    HeUniform,
    /// Truncated normal, σ = √(2 / fan_in).
    HeNormal,
    /// Truncated normal, σ = √(1 / fan_in), for SELU.
    LecunNormal,
    /// U(±1/√fan_in): PyTorch's `nn.Linear` weights. The recurrent
    /// networks' default, where it is PyTorch's RNN initialisation: every
    /// parameter, biases included, from U(±1/√hidden).
    TorchUniform,
    /// A (semi-)orthogonal matrix, as Keras' `Orthogonal` initializer: the
    /// rows orthonormal when `fan_in <= fan_out`, else the columns. For the
    /// recurrent networks: Keras' defaults, an orthogonal recurrent kernel
    /// and Glorot uniform input and head kernels.
    Orthogonal,
}

/// Keras draws "normal" schemes from a normal truncated at ±2σ, scaled up by
/// this factor so the truncated distribution keeps the intended variance.
const TRUNCATED_STDDEV_CORRECTION: f64 = 0.879_625_661_034_239_8;

impl Init {
    pub fn name(self) -> &'static str {
        match self {
            Init::GlorotUniform => "glorot-uniform",
            Init::GlorotNormal => "glorot-normal",
            Init::HeUniform => "he-uniform",
            Init::HeNormal => "he-normal",
            Init::LecunNormal => "lecun-normal",
            Init::TorchUniform => "torch-uniform",
            Init::Orthogonal => "orthogonal",
        }
    }

    /// `fan_in × fan_out` values, row-major `(in, out)`.
    pub fn kernel(self, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Vec<f32> {
        let n = fan_in * fan_out;
        let (fan_in, fan_avg) = (fan_in as f64, (fan_in + fan_out) as f64 / 2.0);
        match self {
            Init::GlorotUniform => uniform(n, (3.0 / fan_avg).sqrt(), rng),
            Init::HeUniform => uniform(n, (6.0 / fan_in).sqrt(), rng),
            Init::GlorotNormal => truncated_normal(n, (1.0 / fan_avg).sqrt(), rng),
            Init::HeNormal => truncated_normal(n, (2.0 / fan_in).sqrt(), rng),
            Init::LecunNormal => truncated_normal(n, (1.0 / fan_in).sqrt(), rng),
            Init::TorchUniform => uniform(n, (1.0 / fan_in).sqrt(), rng),
            Init::Orthogonal => orthogonal(n / fan_out, fan_out, rng),
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn uniform(n: usize, limit: f64, rng: &mut impl Rng) -> Vec<f32> {
    let limit = limit as f32;
    let dist = Uniform::new_inclusive(-limit, limit).expect("a finite, positive limit");
    (0..n).map(|_| dist.sample(rng)).collect()
}

/// A `rows × cols` matrix (row-major) whose rows (when `rows <= cols`) or
/// columns are orthonormal: Gram-Schmidt, in f64, on Gaussian vectors.
fn orthogonal(rows: usize, cols: usize, rng: &mut impl Rng) -> Vec<f32> {
    let (count, len) = (rows.min(cols), rows.max(cols));
    let mut vectors: Vec<Vec<f64>> = Vec::with_capacity(count);
    while vectors.len() < count {
        let mut v: Vec<f64> = (0..len).map(|_| rng.sample(StandardNormal)).collect();
        for u in &vectors {
            let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        // A draw (almost) in the span of the others: draw again.
        if norm > 1e-6 {
            vectors.push(v.into_iter().map(|a| a / norm).collect());
        }
    }
    let mut out = vec![0.0; rows * cols];
    for (k, v) in vectors.iter().enumerate() {
        for (l, &a) in v.iter().enumerate() {
            let (r, c) = if rows <= cols { (k, l) } else { (l, k) };
            out[r * cols + c] = a as f32;
        }
    }
    out
}

fn truncated_normal(n: usize, stddev: f64, rng: &mut impl Rng) -> Vec<f32> {
    let sigma = stddev / TRUNCATED_STDDEV_CORRECTION;
    (0..n)
        .map(|_| loop {
            let z: f64 = rng.sample(StandardNormal);
            if z.abs() <= 2.0 {
                break (z * sigma) as f32;
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn std_dev(v: &[f32]) -> f64 {
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        (v.iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / v.len() as f64)
            .sqrt()
    }

    #[test]
    fn each_scheme_has_its_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (fan_in, fan_out) = (300, 100);
        for (init, expected) in [
            (Init::GlorotUniform, (2.0f64 / 400.0).sqrt()),
            (Init::GlorotNormal, (2.0f64 / 400.0).sqrt()),
            (Init::HeUniform, (2.0f64 / 300.0).sqrt()),
            (Init::HeNormal, (2.0f64 / 300.0).sqrt()),
            (Init::LecunNormal, (1.0f64 / 300.0).sqrt()),
            (Init::TorchUniform, (1.0f64 / 900.0).sqrt()),
            // Orthonormal columns of length 300: mean square 1/300.
            (Init::Orthogonal, (1.0f64 / 300.0).sqrt()),
        ] {
            let k = init.kernel(fan_in, fan_out, &mut rng);
            assert_eq!(k.len(), 30_000);
            let s = std_dev(&k);
            assert!(
                (s / expected - 1.0).abs() < 0.03,
                "{init}: {s} vs {expected}"
            );
        }
    }

    #[test]
    fn normals_are_truncated_at_two_sigma() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let k = Init::HeNormal.kernel(100, 100, &mut rng);
        let bound = 2.0 * (2.0f64 / 100.0).sqrt() / TRUNCATED_STDDEV_CORRECTION;
        assert!(k.iter().all(|&x| f64::from(x).abs() <= bound + 1e-6));
    }
}
