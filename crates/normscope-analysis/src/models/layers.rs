//! The two weight layers the model zoo is built from, with eager, seeded initialisation.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, s};

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
    /// On NdArray the convolution runs as an im2col (the `k²` shifted, strided views of the
    /// padded input, stacked) times the weight matrix: burn-ndarray's direct convolution has a
    /// scalar input-gradient loop that made it 3–5× slower on this crate's networks, while its
    /// matmul is a tuned GEMM. Other backends use their native (cuDNN, CubeCL) convolution.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, k, _] = self.weight.dims();
        let weight = self.effective_weight();
        let bias = self.bias.as_ref().map(|b| b.val());
        if !prefers_im2col(&x.device()) {
            let options = ConvOptions::new([self.stride; 2], [k / 2; 2], [1; 2], 1);
            return conv2d(x, weight, bias, options);
        }
        let y = conv2d_im2col(x, weight, self.stride);
        match bias {
            Some(b) => y.add(b.reshape([1, -1, 1, 1])),
            None => y,
        }
    }
}

/// Whether the device's convolutions are faster as im2col + GEMM (NdArray).
fn prefers_im2col(device: &Device) -> bool {
    #[cfg(feature = "ndarray")]
    {
        matches!(
            device.clone().inner().as_dispatch(),
            burn::backend::DispatchDevice::NdArray(_)
        )
    }
    #[cfg(not(feature = "ndarray"))]
    {
        let _ = device;
        false
    }
}

/// A `k×k` convolution with padding `k/2` and `stride`, as im2col times the weight matrix:
/// `x: [N, C, H, W]`, `weight: [O, C, k, k]` → `[N, O, H_out, W_out]` with
/// `H_out = (H + 2⌊k/2⌋ − k)/stride + 1`. Every step is a differentiable tensor op, so autodiff
/// gives the backward.
pub fn conv2d_im2col(x: Tensor<4>, weight: Tensor<4>, stride: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [o, _, k, _] = weight.dims();
    let pad = k / 2;
    let (ho, wo) = (
        (h + 2 * pad - k) / stride + 1,
        (w + 2 * pad - k) / stride + 1,
    );
    let padded = if pad > 0 {
        x.pad((pad, pad, pad, pad), PadMode::Constant(0.0))
    } else {
        x
    };
    let mut views = Vec::with_capacity(k * k);
    for kh in 0..k {
        for kw in 0..k {
            views.push(padded.clone().slice(s![.., .., kh..kh + (ho - 1) * stride + 1;stride, kw..kw + (wo - 1) * stride + 1;stride]));
        }
    }
    // [N, C, k·k, H_out, W_out]: the row order (c, kh, kw) of the weight's [O, C·k·k] matrix.
    let columns = Tensor::stack::<5>(views, 2).reshape([n, c * k * k, ho * wo]);
    weight
        .reshape([1, o, c * k * k])
        .matmul(columns)
        .reshape([n, o, ho, wo])
}
