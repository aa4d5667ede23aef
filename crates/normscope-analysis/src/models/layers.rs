//! The two weight layers the model zoo is built from, with eager, seeded initialisation.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::init::{Activation, Init};

/// A fully connected layer `y = x W + b`, `W: [d_in, d_out]`.
#[derive(Module, Debug)]
pub struct Dense {
    /// `[d_in, d_out]`.
    pub weight: Param<Tensor<2>>,
    /// `[d_out]`, absent when the layer has no bias.
    pub bias: Option<Param<Tensor<1>>>,
}

impl Dense {
    /// A layer feeding `activation`, initialised by `init`; zero bias when `bias`.
    pub fn new(
        d_in: usize,
        d_out: usize,
        bias: bool,
        init: Init,
        activation: Activation,
        device: &Device,
    ) -> Dense {
        Dense {
            weight: init.weight([d_in, d_out], d_in, d_out, activation, device),
            bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
        }
    }

    /// `[N, d_in] → [N, d_out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.val());
        match &self.bias {
            Some(b) => y.add(b.val().unsqueeze_dim(0)),
            None => y,
        }
    }
}

/// A 2-D convolution with "same" padding, optionally with Scaled Weight Standardization
/// (Brock et al. 2021): `Ŵ = gain · (W − mean(W)) / (std(W) √fan_in)` per output channel.
#[derive(Module, Debug)]
pub struct Conv {
    /// `[C_out, C_in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// `[C_out]`, absent when the layer has no bias.
    pub bias: Option<Param<Tensor<1>>>,
    /// Learnable per-output-channel gain of Scaled WS (`None`: plain convolution).
    pub ws_gain: Option<Param<Tensor<1>>>,
    /// Stride.
    pub stride: usize,
    /// The nonlinearity's gain that Scaled WS multiplies in.
    pub activation_gain: f64,
}

impl Conv {
    /// A `k×k` convolution `c_in → c_out` feeding `activation`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        bias: bool,
        weight_standardization: bool,
        init: Init,
        activation: Activation,
        device: &Device,
    ) -> Conv {
        let fan_in = c_in * k * k;
        Conv {
            weight: init.weight(
                [c_out, c_in, k, k],
                fan_in,
                c_out * k * k,
                activation,
                device,
            ),
            bias: bias.then(|| Param::from_tensor(Tensor::zeros([c_out], device))),
            ws_gain: weight_standardization
                .then(|| Param::from_tensor(Tensor::ones([c_out], device))),
            stride,
            activation_gain: activation.nf_gain(),
        }
    }

    /// The weight as used: standardized when Scaled WS is on.
    pub fn effective_weight(&self) -> Tensor<4> {
        let w = self.weight.val();
        match &self.ws_gain {
            None => w,
            Some(gain) => {
                let [c_out, c_in, k, _] = w.dims();
                let fan_in = (c_in * k * k) as f64;
                let flat = w.reshape([c_out, c_in * k * k]);
                let (var, mean) = flat.clone().var_mean_bias(1);
                let scale = var
                    .mul_scalar(fan_in)
                    .add_scalar(1e-4)
                    .sqrt()
                    .recip()
                    .mul(gain.val().unsqueeze_dim(1))
                    .mul_scalar(self.activation_gain);
                flat.sub(mean).mul(scale).reshape([c_out, c_in, k, k])
            }
        }
    }

    /// `[N, C_in, H, W] → [N, C_out, ⌈H/stride⌉, ⌈W/stride⌉]` ("same" padding `k/2`).
    ///
    /// On the CPU backends (NdArray, Flex) the convolution is normscope's own operation
    /// (`conv_ops`: a direct convolution for stride 1, im2col and one GEMM per sample
    /// otherwise, with its own backward): burn-ndarray's direct convolution has a scalar
    /// input-gradient loop that made it 3–5× slower on this crate's networks. Other backends use
    /// their native (cuDNN, CubeCL) convolution.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, k, _] = self.weight.dims();
        let weight = self.effective_weight();
        let bias = self.bias.as_ref().map(|b| b.val());
        if !prefers_im2col(&x.device()) {
            let options = ConvOptions::new([self.stride; 2], [k / 2; 2], [1; 2], 1);
            return conv2d(x, weight, bias, options);
        }
        let y = super::conv_ops::same_conv2d(x, weight, self.stride);
        match bias {
            Some(b) => y.add(b.reshape([1, -1, 1, 1])),
            None => y,
        }
    }
}

/// Whether the device's convolutions are faster as normscope's im2col + GEMM: the CPU backends
/// (NdArray, Flex; `docs/performance.md`, "The training step").
fn prefers_im2col(device: &Device) -> bool {
    match device.clone().inner().as_dispatch() {
        #[cfg(feature = "ndarray")]
        burn::backend::DispatchDevice::NdArray(_) => true,
        #[cfg(feature = "flex")]
        burn::backend::DispatchDevice::Flex(_) => true,
        _ => false,
    }
}
