//! The model zoo: every model is parameterized by a [`NormConfig`](normscope_core::NormConfig),
//! built on any device, seeded, and runs a forward pass with an explicit mode and a [`Probe`].

mod init;
mod layers;
mod mlp;
mod probe;

pub use init::{Activation, Init};
pub use layers::{Conv, Dense};
pub use mlp::{Mlp, MlpConfig, NormPosition};
pub use probe::{Observation, Probe, Site};
