//! Weight initialisation, part of every model's configuration.

use burn::module::Param;
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

/// A layer's nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The identity: a deep *linear* network.
    Linear,
    /// `max(0, x)`.
    #[default]
    Relu,
    /// `tanh x`.
    Tanh,
    /// `1/(1 + e^{−x})` (Ioffe & Szegedy's MNIST network).
    Sigmoid,
}

impl Activation {
    /// Applies the nonlinearity.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Linear => x,
            Activation::Relu => burn::tensor::activation::relu(x),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => burn::tensor::activation::sigmoid(x),
        }
    }

    /// The name as in configurations and on the command line (`relu`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// The gain that keeps the forward variance of a layer at one (He et al. 2015; PyTorch's
    /// `calculate_gain`): √2 for ReLU, 5/3 for tanh, 1 for linear and sigmoid.
    pub fn gain(self) -> f64 {
        match self {
            Activation::Linear | Activation::Sigmoid => 1.0,
            Activation::Relu => std::f64::consts::SQRT_2,
            Activation::Tanh => 5.0 / 3.0,
        }
    }

    /// The gain Scaled Weight Standardization multiplies in so that `g(Ŵx)` keeps unit variance
    /// for `x ~ N(0, 1)` (Brock et al. 2021, `nfnets/base.py`: 1.7139 for ReLU, 1.5939 for tanh).
    pub fn nf_gain(self) -> f64 {
        match self {
            Activation::Linear | Activation::Sigmoid => 1.0,
            Activation::Relu => 1.713_958_8,
            Activation::Tanh => 1.593_387_3,
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = String;

    /// `linear`, `relu`, `tanh` or `sigmoid`.
    fn from_str(text: &str) -> Result<Activation, String> {
        [
            Activation::Linear,
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
        ]
        .into_iter()
        .find(|a| a.name() == text)
        .ok_or_else(|| format!("activation `{text}`: expected linear, relu, tanh or sigmoid"))
    }
}

/// How weights are drawn. Biases start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Init {
    /// He et al. 2015: `N(0, gain²/fan_in)` with the activation's gain. The default.
    #[default]
    Kaiming,
    /// Glorot & Bengio 2010: `N(0, 2 gain²/(fan_in + fan_out))`.
    Xavier,
    /// `N(0, std²)` whatever the fan-in.
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// Saxe et al. 2014 (PyTorch's `nn.init.orthogonal_`): the weight flattened to
    /// `[shape[0], rest]` is the `Q` of a Gaussian matrix's QR decomposition (signs fixed by `R`'s
    /// diagonal, so `Q` is Haar-distributed), times the activation's gain: its rows (or columns,
    /// whichever are fewer) are orthonormal, so a layer preserves the norm of — and the angles
    /// between — the inputs it does not cut off, where a Gaussian matrix contracts some directions
    /// and stretches others. The same forward scale as Kaiming's (`E‖row‖² = 1` · gain²).
    Orthogonal,
    /// Xiao et al. 2018's delta-orthogonal convolution: every tap zero but the centre one, which
    /// is an orthogonal `[c_out, c_in]` matrix times the gain, so that (up to the zero padding) the
    /// convolution is an orthogonal map of the channel vectors at every position — the rank- and
    /// norm-preserving init of deep CNNs ("dynamical isometry"). On a dense layer it is
    /// [`Init::Orthogonal`].
    DeltaOrthogonal,
}

/// A `[rows, cols]` matrix, row-major, whose rows (`rows ≤ cols`) or columns are orthonormal:
/// the `Q` factor of the QR decomposition of `gaussian` (rows × cols, row-major), with the
/// signs of `R`'s diagonal folded in (Mezzadri 2007), as PyTorch's `orthogonal_` does.
pub fn orthogonal(gaussian: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    // QR of the tall orientation.
    let (tall_rows, tall_cols, transposed) = if rows >= cols {
        (rows, cols, false)
    } else {
        (cols, rows, true)
    };
    let a = faer::Mat::<f64>::from_fn(tall_rows, tall_cols, |i, j| {
        if transposed {
            gaussian[j * cols + i]
        } else {
            gaussian[i * cols + j]
        }
    });
    let qr = a.qr();
    let (q, r) = (qr.compute_thin_Q(), qr.thin_R());
    let mut out = vec![0.0; rows * cols];
    for i in 0..tall_rows {
        for j in 0..tall_cols {
            let sign = if r[(j, j)] < 0.0 { -1.0 } else { 1.0 };
            let v = q[(i, j)] * sign;
            if transposed {
                out[j * cols + i] = v;
            } else {
                out[i * cols + j] = v;
            }
        }
    }
    out
}

impl Init {
    /// The standard deviation for a weight with the given fans, feeding `activation`.
    pub fn std(self, fan_in: usize, fan_out: usize, activation: Activation) -> f64 {
        match self {
            Init::Kaiming => activation.gain() / (fan_in as f64).sqrt(),
            Init::Xavier => activation.gain() * (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::Normal { std } => std,
            // The per-entry scale of a Haar orthogonal matrix with unit rows: 1/√fan_in.
            Init::Orthogonal | Init::DeltaOrthogonal => activation.gain() / (fan_in as f64).sqrt(),
        }
    }

    /// Draws a weight tensor now (not lazily), from the device's generator.
    pub fn weight<const D: usize>(
        self,
        shape: [usize; D],
        fan_in: usize,
        fan_out: usize,
        activation: Activation,
        device: &Device,
    ) -> Param<Tensor<D>> {
        let std = self.std(fan_in, fan_out, activation);
        match self {
            Init::Kaiming | Init::Xavier | Init::Normal { .. } => Param::from_tensor(
                Tensor::random(shape, Distribution::Normal(0.0, std), device),
            ),
            Init::Orthogonal | Init::DeltaOrthogonal => {
                Param::from_tensor(self.orthogonal_weight(shape, activation, device))
            }
        }
    }

    /// [`Init::Orthogonal`] or [`Init::DeltaOrthogonal`]: the Gaussian draw comes from the
    /// device's generator (so a seeded device gives the same weights), the QR runs in f64 on the
    /// host.
    fn orthogonal_weight<const D: usize>(
        self,
        shape: [usize; D],
        activation: Activation,
        device: &Device,
    ) -> Tensor<D> {
        let gain = activation.gain();
        let delta = self == Init::DeltaOrthogonal && D == 4;
        let (rows, cols) = if delta {
            (shape[0], shape[1])
        } else {
            (shape[0], shape[1..].iter().product())
        };
        let gaussian: Vec<f64> =
            Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), device)
                .into_data()
                .iter::<f64>()
                .collect();
        let q = orthogonal(&gaussian, rows, cols);
        let values: Vec<f32> = if delta {
            // Only the centre tap of each [c_out, c_in] pair.
            let (kh, kw) = (shape[2], shape[3]);
            let mut w = vec![0f32; rows * cols * kh * kw];
            for o in 0..rows {
                for i in 0..cols {
                    w[((o * cols + i) * kh + kh / 2) * kw + kw / 2] =
                        (gain * q[o * cols + i]) as f32;
                }
            }
            w
        } else {
            q.iter().map(|v| (gain * v) as f32).collect()
        };
        Tensor::from_data(burn::tensor::TensorData::new(values, shape), device)
    }
}
