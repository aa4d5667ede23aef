//! Probes: record every hidden representation of a forward pass (and, for residual blocks, the
//! skip path and the residual branch separately) without changing the model per metric.

use burn::tensor::{Gradients, Tensor};
use serde::{Deserialize, Serialize};

/// Where in the network a recorded representation sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// The output of a layer (after its normalization and activation): the `H_ℓ` of the rank
    /// and gradient metrics. For residual networks, the output of each block.
    Hidden,
    /// A residual block's input as it reaches the addition (the skip path).
    Skip,
    /// A residual block's residual-branch output before the addition.
    Branch,
    /// The input of a hidden layer's nonlinearity (Ioffe & Szegedy 2015, Fig. 1's "sigmoid input").
    PreActivation,
}

/// One recorded representation, shaped `[N, C, H, W]` (an MLP's `[N, d]` is `[N, d, 1, 1]`).
#[derive(Debug, Clone)]
pub struct Observation {
    /// `layer3`, `block2.skip`, ...
    pub name: String,
    /// Its index among observations of the same site, in forward order.
    pub index: usize,
    /// Where it sits.
    pub site: Site,
    /// The value (detached from the graph).
    pub value: Tensor<4>,
    /// A zero-valued leaf added to the activation when the probe collects gradients:
    /// `∂L/∂tap = ∂L/∂h`.
    tap: Option<Tensor<4>>,
}

impl Observation {
    /// `∂L/∂h` of this representation, when the probe was built with
    /// [`Probe::with_gradients`] and `grads` come from a backward through this forward.
    pub fn gradient(&self, grads: &Gradients) -> Option<Tensor<4>> {
        self.tap.as_ref().and_then(|tap| tap.grad(grads))
    }
}

/// What a forward pass records. Models call [`Probe::observe`] at each site; a probe built with
/// [`Probe::off`] records nothing and costs nothing.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    record: bool,
    taps: bool,
    observations: Vec<Observation>,
}

impl Probe {
    /// Records nothing.
    pub fn off() -> Probe {
        Probe::default()
    }

    /// Records every representation's value.
    pub fn values() -> Probe {
        Probe {
            record: true,
            ..Probe::default()
        }
    }

    /// Records values and adds a zero "tap" leaf at every site, so that after a backward pass
    /// [`Observation::gradient`] gives `∂L/∂h` at each (needs an autodiff device).
    pub fn with_gradients() -> Probe {
        Probe {
            record: true,
            taps: true,
            observations: vec![],
        }
    }

    /// Records `h` at `name`/`site` and returns the activation the network continues with
    /// (`h` itself, or `h + tap` when collecting gradients).
    pub fn observe<const D: usize>(
        &mut self,
        name: impl Into<String>,
        site: Site,
        h: Tensor<D>,
    ) -> Tensor<D> {
        if !self.record {
            return h;
        }
        let dims = h.dims();
        let n = dims[0];
        let c = if D > 1 { dims[1] } else { 1 };
        let width = if D > 3 {
            dims[3..].iter().product::<usize>()
        } else {
            1
        };
        let height = dims.iter().skip(2).product::<usize>().max(1) / width;
        let shape4 = [n, c, height, width];
        let index = self.observations.iter().filter(|o| o.site == site).count();
        // The tap is a 4-D leaf (so that its gradient is looked up on the leaf itself), reshaped
        // to the activation's rank to be added.
        let (out, tap) = if self.taps {
            let tap = Tensor::<4>::zeros(shape4, &h.device()).require_grad();
            (h.clone().add(tap.clone().reshape(dims)), Some(tap))
        } else {
            (h.clone(), None)
        };
        self.observations.push(Observation {
            name: name.into(),
            index,
            site,
            value: h.detach().reshape(shape4),
            tap,
        });
        out
    }

    /// Every observation, in forward order.
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// The observations at one site, in forward order.
    pub fn at(&self, site: Site) -> impl Iterator<Item = &Observation> {
        self.observations.iter().filter(move |o| o.site == site)
    }
}
