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
}

impl Init {
    /// The standard deviation for a weight with the given fans, feeding `activation`.
    pub fn std(self, fan_in: usize, fan_out: usize, activation: Activation) -> f64 {
        match self {
            Init::Kaiming => activation.gain() / (fan_in as f64).sqrt(),
            Init::Xavier => activation.gain() * (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::Normal { std } => std,
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
        Param::from_tensor(Tensor::random(
            shape,
            Distribution::Normal(0.0, std),
            device,
        ))
    }
}
