//! Fully connected networks: an MLP with a normalizer at every hidden layer. With
//! [`Activation::Linear`] it is the deep linear network of Santurkar et al. 2018 and
//! Daneshmand et al. 2020.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use normscope_core::{Mode, Norm, NormConfig, NormError, Normalization};
use serde::{Deserialize, Serialize};

use super::init::{Activation, Init};
use super::layers::Dense;
use super::probe::{Probe, Site};

/// Where the normalizer sits relative to the nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormPosition {
    /// `act(norm(W h))`, as Ioffe & Szegedy 2015.
    #[default]
    BeforeActivation,
    /// `norm(act(W h))`.
    AfterActivation,
}

/// Configuration of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    /// Input features (an input `[N, C, H, W]` is flattened to `C·H·W`).
    pub input: usize,
    /// Hidden width.
    pub width: usize,
    /// Number of hidden layers.
    pub depth: usize,
    /// Output classes.
    pub classes: usize,
    /// Nonlinearity of the hidden layers.
    pub activation: Activation,
    /// The normalizer of every hidden layer.
    pub norm: NormConfig,
    /// Normalizer before or after the nonlinearity.
    pub norm_position: NormPosition,
    /// Weight initialisation (He by default).
    pub init: Init,
    /// Biases in the hidden layers (zero-initialised).
    pub bias: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            input: 32,
            width: 128,
            depth: 8,
            classes: 10,
            activation: Activation::Relu,
            norm: NormConfig::default(),
            norm_position: NormPosition::BeforeActivation,
            init: Init::Kaiming,
            bias: true,
        }
    }
}

impl MlpConfig {
    /// Builds the network on `device` (seed the device first for a reproducible draw).
    pub fn init(&self, device: &Device) -> Result<Mlp, NormError> {
        let mut layers = Vec::with_capacity(self.depth);
        let mut d_in = self.input;
        for _ in 0..self.depth {
            let dense = Dense::new(
                d_in,
                self.width,
                self.bias,
                self.init,
                self.activation,
                device,
            );
            layers.push(MlpLayer {
                dense,
                norm: self.norm.init(&[self.width], device)?,
            });
            d_in = self.width;
        }
        Ok(Mlp {
            layers,
            head: Dense::new(
                d_in,
                self.classes,
                true,
                self.init,
                Activation::Linear,
                device,
            ),
            activation: self.activation,
            position: self.norm_position,
        })
    }
}

/// One hidden layer: weights, then its normalizer (parameters visited in forward order).
#[derive(Module, Debug)]
pub struct MlpLayer {
    /// The affine map.
    pub dense: Dense,
    /// Its normalizer.
    pub norm: Norm,
}

/// A multilayer perceptron with a normalizer at every hidden layer.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Hidden layers.
    pub layers: Vec<MlpLayer>,
    /// Output layer.
    pub head: Dense,
    /// Hidden nonlinearity.
    #[module(skip)]
    pub activation: Activation,
    /// Normalizer position.
    #[module(skip)]
    pub position: NormPosition,
}

impl Mlp {
    /// `[N, C, H, W]` (or `[N, d, 1, 1]`) → logits `[N, classes]`; records each hidden layer's
    /// nonlinearity input as `layer{ℓ}.pre` ([`Site::PreActivation`]) and its output as
    /// `layer{ℓ}` ([`Site::Hidden`]).
    pub fn forward(
        &self,
        x: Tensor<4>,
        mode: Mode,
        probe: &mut Probe,
    ) -> Result<Tensor<2>, NormError> {
        let [n, c, h, w] = x.dims();
        let mut h = x.reshape([n, c * h * w]);
        for (index, layer) in self.layers.iter().enumerate() {
            let z = layer.dense.forward(h);
            h = match self.position {
                NormPosition::BeforeActivation => {
                    let pre = layer.norm.try_forward(z, mode)?;
                    let pre = probe.observe(format!("layer{index}.pre"), Site::PreActivation, pre);
                    self.activation.apply(pre)
                }
                NormPosition::AfterActivation => {
                    let pre = probe.observe(format!("layer{index}.pre"), Site::PreActivation, z);
                    layer.norm.try_forward(self.activation.apply(pre), mode)?
                }
            };
            h = probe.observe(format!("layer{index}"), Site::Hidden, h);
        }
        Ok(self.head.forward(h))
    }

    /// The last hidden layer's output `[N, width]`, in the graph (what rank pre-training
    /// shapes; the probe's copies are detached).
    pub fn hidden(&self, x: Tensor<4>, mode: Mode) -> Result<Tensor<2>, NormError> {
        let [n, c, h, w] = x.dims();
        let mut h = x.reshape([n, c * h * w]);
        for layer in &self.layers {
            let z = layer.dense.forward(h);
            h = match self.position {
                NormPosition::BeforeActivation => {
                    self.activation.apply(layer.norm.try_forward(z, mode)?)
                }
                NormPosition::AfterActivation => {
                    layer.norm.try_forward(self.activation.apply(z), mode)?
                }
            };
        }
        Ok(h)
    }
}
