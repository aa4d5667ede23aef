//! The model zoo: every model is parameterized by a [`NormConfig`](normscope_core::NormConfig),
//! built on any device, seeded, and runs a forward pass with an explicit mode and a [`Probe`]
//! that records hidden representations (and, in residual blocks, the skip path and the branch)
//! without changing the model per metric.

mod conv_ops;
mod fold;
mod init;
mod layers;
mod mlp;
mod network;
mod params;
mod probe;
mod resnet;
mod vgg;

pub use conv_ops::{ConvGrads, ConvOps, same_conv2d};
pub use init::{Activation, Init};
pub use layers::{Conv, Dense};
pub use mlp::{Mlp, MlpConfig, MlpLayer, NormPosition};
pub use network::{Network, NetworkConfig};
pub use params::{ParamLayout, ParamSlot};
pub use probe::{Observation, Probe, Site};
pub use resnet::{Block, FixupScalars, ResNet, ResNetConfig, Residual};
pub use vgg::{Vgg, VggConfig, VggLayer, VggVariant};
