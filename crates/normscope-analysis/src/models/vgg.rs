//! VGG-style CNNs for 32×32 images, the family Santurkar et al. 2018 train on CIFAR-10: 3×3
//! convolutions each followed by a normalizer and a ReLU, 2×2 max-pooling between stages, a
//! linear classifier on the 1×1 map.

use burn::module::Module;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};
use normscope_core::{Mode, Norm, NormConfig, NormError, Normalization};
use serde::{Deserialize, Serialize};

use super::init::{Activation, Init};
use super::layers::{Conv, Dense};
use super::probe::{Probe, Site};

/// Which VGG (Simonyan & Zisserman 2015, configurations A, B, D, E).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VggVariant {
    /// 8 convolutions.
    #[default]
    Vgg11,
    /// 10 convolutions.
    Vgg13,
    /// 13 convolutions.
    Vgg16,
    /// 16 convolutions.
    Vgg19,
}

impl VggVariant {
    /// Channel counts of the convolutions (at width 1), `0` marking a max-pool.
    fn plan(self) -> &'static [usize] {
        match self {
            VggVariant::Vgg11 => &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
            VggVariant::Vgg13 => &[
                64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0,
            ],
            VggVariant::Vgg16 => &[
                64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
            ],
            VggVariant::Vgg19 => &[
                64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512,
                512, 512, 0,
            ],
        }
    }
}

/// Configuration of a [`Vgg`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VggConfig {
    /// Which depth.
    pub variant: VggVariant,
    /// Multiplies every channel count (0.125 → 8 channels in the first layer). Default 0.25.
    pub width: f64,
    /// Input channels. Default 3.
    pub channels: usize,
    /// Input height = width (a multiple of 32). Default 32.
    pub size: usize,
    /// Output classes. Default 10.
    pub classes: usize,
    /// The normalizer after every convolution.
    pub norm: NormConfig,
    /// Weight initialisation.
    pub init: Init,
}

impl Default for VggConfig {
    fn default() -> Self {
        VggConfig {
            variant: VggVariant::Vgg11,
            width: 0.25,
            channels: 3,
            size: 32,
            classes: 10,
            norm: NormConfig::default(),
            init: Init::Kaiming,
        }
    }
}

/// One convolution of a VGG with its normalizer (then a ReLU).
#[derive(Module, Debug)]
pub struct VggLayer {
    /// 3×3 convolution.
    pub conv: Conv,
    /// Its normalizer.
    pub norm: Norm,
}

/// A VGG network.
#[derive(Module, Debug)]
pub struct Vgg {
    /// Convolutions in order.
    pub layers: Vec<VggLayer>,
    /// Whether a 2×2 max-pool follows each convolution.
    #[module(skip)]
    pub pool_after: Vec<bool>,
    /// Classifier on the final map.
    pub head: Dense,
}

impl VggConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Result<Vgg, NormError> {
        let mut layers = vec![];
        let mut pool_after: Vec<bool> = vec![];
        let mut c_in = self.channels;
        let mut size = self.size;
        for &c in self.variant.plan() {
            if c == 0 {
                if let Some(last) = pool_after.last_mut() {
                    *last = true;
                }
                size /= 2;
            } else {
                let c_out = ((c as f64 * self.width).round() as usize).max(1);
                let conv = Conv::new(
                    c_in,
                    c_out,
                    3,
                    1,
                    true,
                    false,
                    self.init,
                    Activation::Relu,
                    device,
                );
                layers.push(VggLayer {
                    conv,
                    norm: self.norm.init(&[c_out, size, size], device)?,
                });
                pool_after.push(false);
                c_in = c_out;
            }
        }
        let features = c_in * size * size;
        Ok(Vgg {
            layers,
            pool_after,
            head: Dense::new(
                features,
                self.classes,
                true,
                self.init,
                Activation::Linear,
                device,
            ),
        })
    }
}

impl Vgg {
    /// `[N, C, H, W]` → logits; records every convolution's output as `conv{ℓ}`.
    pub fn forward(
        &self,
        x: Tensor<4>,
        mode: Mode,
        probe: &mut Probe,
    ) -> Result<Tensor<2>, NormError> {
        let mut h = x;
        for (index, (layer, &pool)) in self.layers.iter().zip(&self.pool_after).enumerate() {
            h = burn::tensor::activation::relu(
                layer.norm.try_forward(layer.conv.forward(h), mode)?,
            );
            h = probe.observe(format!("conv{index}"), Site::Hidden, h);
            if pool {
                h = max_pool2d(h, MaxPoolOptions::new([2, 2]));
            }
        }
        let [n, c, hh, w] = h.dims();
        Ok(self.head.forward(h.reshape([n, c * hh * w])))
    }
}
