//! Activation functions, each one candle op forward and one backward.
//!
//! Composing them from candle's primitives works but costs several tensor
//! ops per layer (leaky ReLU is four) and, for GELU, inherits rounded
//! constants in candle's backward pass. A custom op computes `f(x)` in one
//! pass and its gradient `g · f'(x)` in one more, in f64 internally, matching
//! PyTorch's definitions (including ReLU's zero gradient at 0 and softplus'
//! threshold of 20).

use std::fmt;
use std::str::FromStr;

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use gradscope_candle::units::UnitMeasure;

use crate::cpu::contiguous;

/// The non-linearity after each hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activation {
    Sigmoid,
    Relu,
    /// `x` for positive inputs, `slope · x` otherwise (TensorFlow's default
    /// slope is 0.2, see `DEFAULT_LEAKY_SLOPE`).
    LeakyRelu,
    Tanh,
    /// With alpha 1.
    Elu,
    Selu,
    /// The exact (erf) form, PyTorch's default.
    Gelu,
    /// `ln(1 + e^x)`, and `x` above 20 as PyTorch does.
    Softplus,
    /// The identity: no non-linearity at all.
    Linear,
}

/// TensorFlow's `tf.nn.leaky_relu` slope.
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.2;

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
const SOFTPLUS_THRESHOLD: f64 = 20.0;

impl Activation {
    pub const ALL: [Activation; 9] = [
        Activation::Sigmoid,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Tanh,
        Activation::Elu,
        Activation::Selu,
        Activation::Gelu,
        Activation::Softplus,
        Activation::Linear,
    ];

    /// The unit measure that means something for this activation: dead
    /// units for the ReLU family, saturated ones for sigmoid and tanh, none
    /// for the identity.
    pub fn unit_measure(self) -> Option<UnitMeasure> {
        match self {
            Activation::Sigmoid | Activation::Tanh => Some(UnitMeasure::Saturated),
            Activation::Relu
            | Activation::LeakyRelu
            | Activation::Elu
            | Activation::Selu
            | Activation::Gelu
            | Activation::Softplus => Some(UnitMeasure::Dead),
            Activation::Linear => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Tanh => "tanh",
            Activation::Elu => "elu",
            Activation::Selu => "selu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Linear => "linear",
        }
    }

    /// The names `FromStr` accepts, for error messages.
    pub fn names() -> String {
        Activation::ALL.map(Activation::name).join(", ")
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown activation `{s}`; valid: {}", Activation::names()))
    }
}

/// `$fun::<K>(args)`, where `K` is the index of the activation `$kind` in
/// [`Activation::ALL`]: each kind gets its own copy of `$fun`, in which the
/// kind is a constant, so the per-element `match` in [`ActivationFn::value`]
/// and [`ActivationFn::derivative`] folds away and simple kinds vectorise.
macro_rules! specialised {
    ($kind:expr, $fun:ident($($arg:expr),*)) => {
        match $kind {
            Activation::Sigmoid => $fun::<0>($($arg),*),
            Activation::Relu => $fun::<1>($($arg),*),
            Activation::LeakyRelu => $fun::<2>($($arg),*),
            Activation::Tanh => $fun::<3>($($arg),*),
            Activation::Elu => $fun::<4>($($arg),*),
            Activation::Selu => $fun::<5>($($arg),*),
            Activation::Gelu => $fun::<6>($($arg),*),
            Activation::Softplus => $fun::<7>($($arg),*),
            Activation::Linear => $fun::<8>($($arg),*),
        }
    };
}

// The activation is built inside each closure, from the constant `K`, so
// that it is a constant where the loop is compiled (a captured `ActivationFn`
// would be read through a pointer, its kind unknown to the compiler).
#[inline(never)]
fn values_of<const K: usize>(leaky_slope: f64, z: &[f32]) -> Vec<f32> {
    let f = move |x: f64| ActivationFn::new(Activation::ALL[K], leaky_slope).value(x);
    z.iter().map(|&z| f(f64::from(z)) as f32).collect()
}

#[inline(never)]
fn gradients_of<const K: usize>(leaky_slope: f64, z: &[f32], g: &[f32]) -> Vec<f32> {
    let df = move |x: f64| ActivationFn::new(Activation::ALL[K], leaky_slope).derivative(x);
    z.iter()
        .zip(g)
        .map(|(&z, &g)| (f64::from(g) * df(f64::from(z))) as f32)
        .collect()
}

/// An activation with its parameter, applied as a candle op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationFn {
    pub kind: Activation,
    /// Used by [`Activation::LeakyRelu`] only.
    pub leaky_slope: f64,
}

impl ActivationFn {
    pub fn new(kind: Activation, leaky_slope: f64) -> ActivationFn {
        ActivationFn { kind, leaky_slope }
    }

    /// `f(x)`, elementwise.
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        if self.kind == Activation::Linear {
            return Ok(x.clone());
        }
        x.apply_op1(Forward(self))
    }

    /// `f(x)` from candle's standard ops, which run on any device: the
    /// fused op's function, for the trainer's `candle-nn` engine.
    pub fn apply_standard(self, x: &Tensor) -> Result<Tensor> {
        let negative_part = |scale: f64, alpha: f64| -> Result<Tensor> {
            // scale · (x if x > 0 else alpha · (e^x - 1))
            let below = ((x.exp()? - 1.0)? * alpha)?;
            x.gt(0.0)?.where_cond(x, &below)? * scale
        };
        match self.kind {
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, self.leaky_slope),
            Activation::Tanh => x.tanh(),
            Activation::Elu => negative_part(1.0, 1.0),
            Activation::Selu => negative_part(SELU_SCALE, SELU_ALPHA),
            Activation::Gelu => x.gelu_erf(),
            Activation::Softplus => {
                let soft = (x.exp()? + 1.0)?.log()?;
                x.gt(SOFTPLUS_THRESHOLD)?.where_cond(x, &soft)
            }
            Activation::Linear => Ok(x.clone()),
        }
    }

    /// `f(z)` of each of `z`, computed in f64.
    pub fn values(self, z: &[f32]) -> Vec<f32> {
        specialised!(self.kind, values_of(self.leaky_slope, z))
    }

    /// `g · f'(z)` of each pair of gradient `g` and input `z`, computed in
    /// f64: the chain rule through the activation.
    pub fn gradients(self, z: &[f32], g: &[f32]) -> Vec<f32> {
        specialised!(self.kind, gradients_of(self.leaky_slope, z, g))
    }

    /// `f(x)` in f64.
    #[inline(always)]
    pub fn value(self, x: f64) -> f64 {
        match self.kind {
            Activation::Sigmoid => sigmoid(x),
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu => {
                if x > 0.0 {
                    x
                } else {
                    self.leaky_slope * x
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Activation::Selu => SELU_SCALE * if x > 0.0 { x } else { SELU_ALPHA * x.exp_m1() },
            Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Activation::Softplus => {
                if x > SOFTPLUS_THRESHOLD {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            Activation::Linear => x,
        }
    }

    /// `f'(x)` in f64.
    #[inline(always)]
    pub fn derivative(self, x: f64) -> f64 {
        match self.kind {
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Relu => f64::from(u8::from(x > 0.0)),
            Activation::LeakyRelu => {
                if x > 0.0 {
                    1.0
                } else {
                    self.leaky_slope
                }
            }
            Activation::Tanh => 1.0 - x.tanh().powi(2),
            Activation::Elu => {
                if x > 0.0 {
                    1.0
                } else {
                    x.exp()
                }
            }
            Activation::Selu => SELU_SCALE * if x > 0.0 { 1.0 } else { SELU_ALPHA * x.exp() },
            Activation::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + x * pdf
            }
            Activation::Softplus => {
                if x > SOFTPLUS_THRESHOLD {
                    1.0
                } else {
                    sigmoid(x)
                }
            }
            Activation::Linear => 1.0,
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `y = f(x)`.
struct Forward(ActivationFn);

impl CustomOp1 for Forward {
    fn name(&self) -> &'static str {
        "activation"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous::<f32>(self.name(), storage, layout)?;
        let f = self.0;
        let y = f.values(x);
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad_res = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad_res, &Backward(self.0))?))
    }
}

/// `dL/dx = dL/dy · f'(x)`, from `x` and `dL/dy`.
struct Backward(ActivationFn);

impl CustomOp2 for Backward {
    fn name(&self) -> &'static str {
        "activation-grad"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous::<f32>(self.name(), x, x_layout)?;
        let grad = contiguous::<f32>(self.name(), grad, grad_layout)?;
        if x.len() != grad.len() {
            bail!(
                "{}: {} inputs but {} gradients",
                self.name(),
                x.len(),
                grad.len()
            );
        }
        let f = self.0;
        let out = f.gradients(x, grad);
        Ok((CpuStorage::F32(out), x_layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn unit_measure_of_activations() {
        use crate::model::Activation;
        use gradscope_candle::units::UnitMeasure;
        assert_eq!(
            Activation::Tanh.unit_measure(),
            Some(UnitMeasure::Saturated)
        );
        assert_eq!(Activation::Linear.unit_measure(), None);
    }
    use candle_core::{Device, Var};

    /// The saturation bound found from our derivatives is where each
    /// crosses 1% of its maximum: sigmoid'(6) is 0.99% of sigmoid'(0),
    /// sigmoid'(5.9) 1.09%; tanh'(3) = 0.0099, tanh'(2.9) = 0.012.
    #[test]
    fn saturation_uses_the_activations_own_derivative() {
        use gradscope_candle::units::saturated_fraction;
        let derivative = |kind| {
            let f = ActivationFn::new(kind, 0.0);
            move |x| f.derivative(x)
        };
        let sigmoid = derivative(Activation::Sigmoid);
        assert_eq!(saturated_fraction(&[6.0, -5.9], 1, sigmoid), 0.0);
        assert_eq!(saturated_fraction(&[6.0, -6.1], 1, sigmoid), 1.0);
        let tanh = derivative(Activation::Tanh);
        assert_eq!(saturated_fraction(&[3.0, -2.9], 1, tanh), 0.0);
        assert_eq!(saturated_fraction(&[3.0, -3.1], 1, tanh), 1.0);
    }

    #[test]
    fn kinds_are_listed_in_declaration_order() {
        // `specialised!` relies on it.
        for (i, kind) in Activation::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i, "{kind}");
        }
    }

    #[test]
    fn names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(a.name().parse::<Activation>().unwrap(), a);
        }
        let err = "swish".parse::<Activation>().unwrap_err();
        assert!(err.contains("swish") && err.contains("softplus"), "{err}");
    }

    #[test]
    fn values_match_their_definitions() {
        let f = |kind| ActivationFn::new(kind, DEFAULT_LEAKY_SLOPE);
        assert_eq!(f(Activation::Relu).value(-2.0), 0.0);
        assert_eq!(f(Activation::LeakyRelu).value(-2.0), -0.4);
        assert_eq!(f(Activation::Sigmoid).value(0.0), 0.5);
        assert!((f(Activation::Elu).value(-1.0) - (-0.632_120_558_828_557_7)).abs() < 1e-15);
        assert!((f(Activation::Selu).value(1.0) - 1.050_700_987_355_480_5).abs() < 1e-15);
        // GELU(1) = 0.5 * (1 + erf(1/sqrt 2)) = Phi(1) = 0.841344746...
        assert!((f(Activation::Gelu).value(1.0) - 0.841_344_746_068_543).abs() < 1e-12);
        assert!((f(Activation::Softplus).value(0.0) - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(f(Activation::Softplus).value(30.0), 30.0);
        assert_eq!(f(Activation::Linear).value(-3.5), -3.5);
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for kind in Activation::ALL {
            let f = ActivationFn::new(kind, 0.1);
            for x in [-3.0, -0.7, -0.01, 0.3, 1.9, 25.0] {
                let h = 1e-6;
                let numeric = (f.value(x + h) - f.value(x - h)) / (2.0 * h);
                let analytic = f.derivative(x);
                assert!(
                    (numeric - analytic).abs() < 1e-6 * (1.0 + analytic.abs()),
                    "{kind} at {x}: {analytic} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn backprop_through_the_op_uses_the_derivative() {
        let d = Device::Cpu;
        for kind in Activation::ALL {
            let f = ActivationFn::new(kind, DEFAULT_LEAKY_SLOPE);
            let x = Var::new(&[-1.5f32, -0.2, 0.4, 2.0], &d).unwrap();
            let y = f.apply(x.as_tensor()).unwrap();
            let values = y.to_vec1::<f32>().unwrap();
            let grads = y.sum_all().unwrap().backward().unwrap();
            let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
            for (i, &xv) in [-1.5f64, -0.2, 0.4, 2.0].iter().enumerate() {
                assert_eq!(values[i], f.value(xv) as f32, "{kind}");
                assert_eq!(g[i], f.derivative(xv) as f32, "{kind}");
            }
        }
    }
}
