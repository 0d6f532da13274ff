//! Writes one of each kind of summary into a logdir, for every TensorBoard
//! dashboard: scalars (and several series in one chart), histograms and
//! distributions, images, audio, text, PR curves, the Projector, custom
//! scalars, hparams (two seeds of one configuration, grouped) and a graph.
//!
//! ```text
//! cargo run -p gradscope-tensorboard --example all_dashboards -- DIR
//! tensorboard --logdir DIR
//! ```
//!
//! `tests/it/dashboards.rs` checks that TensorBoard's server returns all of it;
//! `scripts/screenshot-all-dashboards.sh DIR docs/` photographs each
//! dashboard.

use std::f32::consts::TAU;
use std::path::Path;

use gradscope_tensorboard::custom_scalars::{Category, Layout, Margin};
use gradscope_tensorboard::graph::{Graph, Node};
use gradscope_tensorboard::hparams::HParams;
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::proto::DataType;
use gradscope_tensorboard::{SummaryError, SummaryWriter};

/// Steps of the synthetic training curves.
pub const STEPS: i64 = 20;

/// A small deterministic generator, so every run writes the same values.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Roughly normal, mean 0, standard deviation 1.
    fn normal(&mut self) -> f32 {
        (0..12).map(|_| self.next()).sum::<f32>() - 6.0
    }
}

/// Writes every dashboard's data into `logdir`: the runs `seed-1` (all of
/// it) and `seed-2` (scalars and hparams, in the same session group).
pub fn write_all(logdir: &Path) -> Result<(), SummaryError> {
    for seed in [1u64, 2] {
        let writer = SummaryWriter::new(logdir.join(format!("seed-{seed}")))?;
        let mut rng = Lcg(seed);
        for step in 0..STEPS {
            let t = step as f64;
            let noise = f64::from(rng.next()) * 0.05;
            let loss = 2.0 * (-t / 6.0).exp() + noise;
            writer.add_scalar("loss", loss, step)?;
            writer.add_scalars(
                "accuracy",
                &[("train", 1.0 - loss / 2.5), ("test", 0.95 - loss / 2.2)],
                step,
            )?;
            let spread = 0.05 + 0.02 * (t / 3.0).sin().abs();
            let acc = 1.0 - loss / 2.5;
            writer.add_scalar("margin/acc", acc, step)?;
            writer.add_scalar("margin/acc_low", acc - spread, step)?;
            writer.add_scalar("margin/acc_high", acc + spread, step)?;
        }
        let hparams = HParams::new()
            .set("optimizer", "adam")
            .set("lr", 0.001)
            .set("residual", true)
            .set("seed", seed)
            .group_by_all_but(&["seed"]);
        writer.add_hparams(&hparams, &[("final_loss", 0.15 + seed as f64 * 0.01)])?;
        if seed == 1 {
            write_the_rest(&writer, &mut rng)?;
        }
        writer.close()?;
    }
    Ok(())
}

fn write_the_rest(writer: &SummaryWriter, rng: &mut Lcg) -> Result<(), SummaryError> {
    for step in 0..5 {
        let values: Vec<f32> = (0..10_000)
            .map(|_| rng.normal() * (1.0 + step as f32 * 0.3))
            .collect();
        writer.add_histogram("weights", &values, step)?;
    }

    // A color gradient with a white circle (HWC floats) and a batch of
    // 16 gray "digits" (NCHW bytes).
    let (h, w) = (64, 96);
    let mut pixels = Vec::with_capacity(h * w * 3);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 - 48.0, y as f32 - 32.0);
            let inside = dx * dx + dy * dy < 18.0 * 18.0;
            let c = if inside {
                [1.0, 1.0, 1.0]
            } else {
                [x as f32 / w as f32, y as f32 / h as f32, 0.5]
            };
            pixels.extend_from_slice(&c);
        }
    }
    writer.add_image("gradient", &Image::hwc(&pixels, h, w, 3), 0)?;
    let digits: Vec<u8> = (0..16 * 28 * 28usize)
        .map(|i| {
            let (k, y, x) = (i / 784, i % 784 / 28, i % 28);
            if (y as i32 - 14).abs() < 10
                && (x as i32 - 14 - (k as i32 - 8)).abs() < 2 + k as i32 / 4
            {
                230
            } else {
                20
            }
        })
        .collect();
    writer.add_images("digits", &Image::nchw(&digits, 16, 1, 28, 28), 0)?;

    // Half a second of a 440 Hz tone fading out.
    let rate = 16_000;
    let tone: Vec<f32> = (0..rate / 2)
        .map(|i| {
            (i as f32 * 440.0 * TAU / rate as f32).sin()
                * 0.5
                * (1.0 - i as f32 / (rate / 2) as f32)
        })
        .collect();
    writer.add_audio("tone", &tone, rate, 0)?;

    writer.add_text(
        "notes",
        "# all_dashboards\n\n| dashboard | method |\n|---|---|\n| Scalars | `add_scalar` |\n| Text | `add_text` |\n",
        0,
    )?;

    // A classifier whose scores improve with the step.
    for step in 0..3 {
        let labels: Vec<bool> = (0..500).map(|i| i % 3 == 0).collect();
        let predictions: Vec<f32> = labels
            .iter()
            .map(|&l| {
                let signal = if l {
                    0.25 + 0.1 * step as f32
                } else {
                    -0.25 - 0.1 * step as f32
                };
                (0.5 + signal + rng.normal() * 0.2).clamp(0.0, 1.0)
            })
            .collect();
        writer.add_pr_curve("classifier", &labels, &predictions, step)?;
    }

    // Three clusters in 5 dimensions, each point labeled and with a sprite.
    let mut points = Vec::new();
    let mut labels = Vec::new();
    let mut sprites = Vec::new();
    for i in 0..60 {
        let cluster = i % 3;
        let row: Vec<f32> = (0..5)
            .map(|d| if d == cluster { 3.0 } else { 0.0 } + rng.normal() * 0.4)
            .collect();
        points.push(row);
        labels.push(["red", "green", "blue"][cluster]);
        for _ in 0..8 * 8 {
            let mut rgb = [0u8; 3];
            rgb[cluster] = 220;
            sprites.extend_from_slice(&rgb);
        }
    }
    writer.add_embedding(
        "clusters",
        &points,
        &labels,
        Some(&Image::nhwc(&sprites, 60, 8, 8, 3)),
        0,
    )?;

    writer.add_custom_scalars(
        &Layout::new().category(
            Category::new("training")
                .multiline("loss and accuracy", ["^loss$", "^accuracy/"])
                .margin(
                    "accuracy ± spread",
                    [Margin::new(
                        "margin/acc",
                        "margin/acc_low",
                        "margin/acc_high",
                    )],
                ),
        ),
    )?;

    let mut graph = Graph::new();
    graph
        .add(Node::placeholder("input", DataType::DtFloat, &[-1, 784]))
        .add(Node::variable("layer1/kernel", &[784, 128]))
        .add(
            Node::new("layer1/MatMul", "MatMul")
                .inputs(&["input", "layer1/kernel"])
                .output_shapes(&[&[-1, 128]]),
        )
        .add(
            Node::new("layer1/Relu", "Relu")
                .inputs(&["layer1/MatMul"])
                .output_shapes(&[&[-1, 128]]),
        )
        .add(Node::variable("layer2/kernel", &[128, 10]))
        .add(
            Node::new("layer2/MatMul", "MatMul")
                .inputs(&["layer1/Relu", "layer2/kernel"])
                .output_shapes(&[&[-1, 10]]),
        )
        .add(
            Node::new("softmax", "Softmax")
                .inputs(&["layer2/MatMul"])
                .output_shapes(&[&[-1, 10]]),
        );
    writer.add_graph(&graph)?;
    Ok(())
}

#[allow(dead_code)] // the test that includes this file calls write_all only
fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: all_dashboards DIR");
        std::process::exit(2);
    };
    if let Err(e) = write_all(Path::new(&dir)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!(
        "wrote every dashboard's data into {}",
        Path::new(&dir).display()
    );
}
