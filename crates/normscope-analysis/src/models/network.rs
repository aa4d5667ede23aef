//! Any model of the zoo behind one configuration and one module.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use normscope_core::{Mode, NormConfig, NormError};
use serde::{Deserialize, Serialize};

use super::mlp::{Mlp, MlpConfig};
use super::probe::Probe;
use super::resnet::{ResNet, ResNetConfig};
use super::vgg::{Vgg, VggConfig};

/// Which model, tagged by `kind` (`mlp`, `vgg`, `res_net`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetworkConfig {
    /// A fully connected network.
    Mlp(MlpConfig),
    /// A VGG-style CNN.
    Vgg(VggConfig),
    /// A pre-activation ResNet.
    ResNet(ResNetConfig),
}

impl NetworkConfig {
    /// The same model with another normalizer.
    pub fn with_norm(&self, norm: NormConfig) -> NetworkConfig {
        let mut config = self.clone();
        match &mut config {
            NetworkConfig::Mlp(c) => c.norm = norm,
            NetworkConfig::Vgg(c) => c.norm = norm,
            NetworkConfig::ResNet(c) => c.norm = norm,
        }
        config
    }

    /// The normalizer.
    pub fn norm(&self) -> &NormConfig {
        match self {
            NetworkConfig::Mlp(c) => &c.norm,
            NetworkConfig::Vgg(c) => &c.norm,
            NetworkConfig::ResNet(c) => &c.norm,
        }
    }

    /// The same model fitted to images of `shape` (`[C, H, W]`) and `classes` classes.
    pub fn for_data(&self, shape: [usize; 3], classes: usize) -> NetworkConfig {
        let mut config = self.clone();
        match &mut config {
            NetworkConfig::Mlp(c) => {
                c.input = shape.iter().product();
                c.classes = classes;
            }
            NetworkConfig::Vgg(c) => {
                (c.channels, c.size, c.classes) = (shape[0], shape[1], classes);
            }
            NetworkConfig::ResNet(c) => {
                (c.channels, c.size, c.classes) = (shape[0], shape[1], classes);
            }
        }
        config
    }

    /// Builds the network on `device` (seed the device first for a reproducible draw).
    pub fn init(&self, device: &Device) -> Result<Network, NormError> {
        Ok(match self {
            NetworkConfig::Mlp(c) => Network::Mlp(c.init(device)?),
            NetworkConfig::Vgg(c) => Network::Vgg(c.init(device)?),
            NetworkConfig::ResNet(c) => Network::ResNet(c.init(device)?),
        })
    }
}

/// Any model of the zoo.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Network {
    /// A fully connected network.
    Mlp(Mlp),
    /// A VGG-style CNN.
    Vgg(Vgg),
    /// A pre-activation ResNet.
    ResNet(ResNet),
}

impl Network {
    /// `[N, C, H, W]` → logits `[N, classes]`, recording into `probe`.
    pub fn forward(
        &self,
        x: Tensor<4>,
        mode: Mode,
        probe: &mut Probe,
    ) -> Result<Tensor<2>, NormError> {
        match self {
            Network::Mlp(m) => m.forward(x, mode, probe),
            Network::Vgg(m) => m.forward(x, mode, probe),
            Network::ResNet(m) => m.forward(x, mode, probe),
        }
    }
}
