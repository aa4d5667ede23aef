//! Pre-activation ResNets (He et al. 2016, "ResNet-v2"; the blocks of De & Smith 2020) for
//! 32×32 images, with the normalizer-free residual options those papers compare against.

use burn::module::{Module, Param};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};
use normscope_core::{Mode, Norm, NormConfig, NormError, Normalization};
use serde::{Deserialize, Serialize};

use super::init::{Activation, Init};
use super::layers::{Conv, Dense};
use super::probe::{Probe, Site};

/// How a residual block combines its skip path and its branch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Residual {
    /// `x + f(x)`, with the configured normalizer inside `f` (ResNet-v2).
    #[default]
    Standard,
    /// SkipInit (De & Smith 2020): `x + α f(x)` with a learnable scalar `α` initialised to
    /// `alpha`, or to `alpha/√d` (`d` residual blocks) with `per_sqrt_depth` (0 in the paper's
    /// code; the paper allows any `α₀ ≤ 1/√d`). Combine with `norm = identity` for the
    /// normalizer-free network.
    SkipInit {
        /// Initial value of the branch scalar (divided by `√d` with `per_sqrt_depth`).
        alpha: f64,
        /// Divide `alpha` by the square root of the number of residual blocks.
        #[serde(default)]
        per_sqrt_depth: bool,
    },
    /// Fixup-style initialisation (Zhang, Dauphin & Ma 2019): no normalizer; the branch's last
    /// convolution and the classifier start at zero, its first convolution is scaled by
    /// `L^{-1/2}` (`L` residual branches of two layers), and learnable scalar biases
    /// (before each convolution and activation) and a scalar multiplier (init 1) are added.
    Fixup,
    /// NF-ResNet (Brock et al. 2021): no normalizer; Scaled Weight Standardization in every
    /// convolution, `x + α f(x/β)` with `β` the analytic standard deviation of the block input;
    /// train it with adaptive gradient clipping (`SgdConfig::agc`).
    NfResNet {
        /// The branch scale `α` (0.2 in the paper).
        alpha: f64,
    },
}

/// Configuration of a [`ResNet`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResNetConfig {
    /// Residual blocks per stage. Default 3 (ResNet-20 with 3 stages).
    pub blocks: usize,
    /// Stages; each after the first halves the resolution and doubles the width. Default 3.
    pub stages: usize,
    /// Channels of the first stage. Default 16.
    pub width: usize,
    /// Input channels. Default 3.
    pub channels: usize,
    /// Input height = width. Default 32.
    pub size: usize,
    /// Output classes. Default 10.
    pub classes: usize,
    /// The normalizer of every block (and before the classifier), for `Standard` and `SkipInit`.
    pub norm: NormConfig,
    /// How blocks combine skip and branch.
    pub residual: Residual,
    /// Weight initialisation.
    pub init: Init,
    /// Stride of the stem convolution: 2 halves the resolution before the first stage (as
    /// ImageNet ResNets do; the presets for 28×28 and 32×32 real data use it). Default 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stem_stride: usize,
}

fn one() -> usize {
    1
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

impl Default for ResNetConfig {
    fn default() -> Self {
        ResNetConfig {
            blocks: 3,
            stages: 3,
            width: 16,
            channels: 3,
            size: 32,
            classes: 10,
            norm: NormConfig::default(),
            residual: Residual::Standard,
            init: Init::Kaiming,
            stem_stride: 1,
        }
    }
}

/// Fixup's learnable scalars.
#[derive(Module, Debug)]
pub struct FixupScalars {
    /// Bias before the first convolution.
    pub bias1a: Param<Tensor<1>>,
    /// Bias before the first activation.
    pub bias1b: Param<Tensor<1>>,
    /// Bias before the second convolution.
    pub bias2a: Param<Tensor<1>>,
    /// Bias after the multiplier.
    pub bias2b: Param<Tensor<1>>,
    /// Branch multiplier.
    pub scale: Param<Tensor<1>>,
}

/// One pre-activation residual block (fields in forward order, so that parameters are visited
/// in the order they act).
#[derive(Module, Debug)]
pub struct Block {
    /// Normalizer before the first convolution (Standard, SkipInit).
    pub norm1: Option<Norm>,
    /// 1×1 projection of the skip path when the shape changes.
    pub projection: Option<Conv>,
    /// First 3×3 convolution (stride 2 in a stage's first block after the first stage).
    pub conv1: Conv,
    /// Normalizer before the second convolution (Standard, SkipInit).
    pub norm2: Option<Norm>,
    /// Second 3×3 convolution.
    pub conv2: Conv,
    /// SkipInit's learnable branch scalar.
    pub skip_gain: Option<Param<Tensor<1>>>,
    /// Fixup's scalars.
    pub fixup: Option<FixupScalars>,
    /// How skip and branch combine.
    #[module(skip)]
    pub residual: Residual,
    /// NF-ResNet's `β`: the expected standard deviation of this block's input.
    pub beta: f64,
}

fn scalar(value: f64, device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::full([1], value, device))
}

fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    burn::tensor::activation::relu(x)
}

impl Block {
    #[allow(clippy::too_many_arguments)]
    fn new(
        config: &ResNetConfig,
        c_in: usize,
        c_out: usize,
        stride: usize,
        size_in: usize,
        total_blocks: usize,
        beta: f64,
        device: &Device,
    ) -> Result<Block, NormError> {
        let ws = matches!(config.residual, Residual::NfResNet { .. });
        let normalized = matches!(
            config.residual,
            Residual::Standard | Residual::SkipInit { .. }
        );
        let size_out = size_in / stride;
        let conv = |c_in, c_out, k, stride| {
            Conv::new(
                c_in,
                c_out,
                k,
                stride,
                false,
                ws,
                config.init,
                Activation::Relu,
                device,
            )
        };
        let mut conv1 = conv(c_in, c_out, 3, stride);
        let mut conv2 = conv(c_out, c_out, 3, 1);
        let mut fixup = None;
        if config.residual == Residual::Fixup {
            let scale = (total_blocks as f64).powf(-0.5);
            conv1.weight = conv1.weight.map(|w| w.mul_scalar(scale));
            conv2.weight = conv2.weight.map(|w| w.zeros_like());
            fixup = Some(FixupScalars {
                bias1a: scalar(0.0, device),
                bias1b: scalar(0.0, device),
                bias2a: scalar(0.0, device),
                bias2b: scalar(0.0, device),
                scale: scalar(1.0, device),
            });
        }
        Ok(Block {
            norm1: if normalized {
                Some(config.norm.init(&[c_in, size_in, size_in], device)?)
            } else {
                None
            },
            norm2: if normalized {
                Some(config.norm.init(&[c_out, size_out, size_out], device)?)
            } else {
                None
            },
            conv1,
            conv2,
            projection: (stride != 1 || c_in != c_out).then(|| conv(c_in, c_out, 1, stride)),
            skip_gain: match config.residual {
                Residual::SkipInit {
                    alpha,
                    per_sqrt_depth,
                } => Some(scalar(
                    if per_sqrt_depth {
                        alpha / (total_blocks as f64).sqrt()
                    } else {
                        alpha
                    },
                    device,
                )),
                _ => None,
            },
            fixup,
            residual: config.residual,
            beta,
        })
    }

    /// The block; records its skip path, branch and output.
    fn forward(
        &self,
        x: Tensor<4>,
        mode: Mode,
        index: usize,
        probe: &mut Probe,
    ) -> Result<Tensor<4>, NormError> {
        let (skip, branch) = match (&self.residual, &self.fixup) {
            (Residual::Fixup, Some(f)) => {
                let b = |p: &Param<Tensor<1>>| p.val().reshape([1, 1, 1, 1]);
                let pre = relu(x.clone()).add(b(&f.bias1a));
                let skip = match &self.projection {
                    Some(p) => p.forward(pre.clone()),
                    None => x,
                };
                let h = relu(self.conv1.forward(pre).add(b(&f.bias1b)));
                let h = self.conv2.forward(h.add(b(&f.bias2a)));
                (skip, h.mul(b(&f.scale)).add(b(&f.bias2b)))
            }
            (Residual::NfResNet { alpha }, _) => {
                let pre = relu(x.clone()).div_scalar(self.beta);
                let skip = match &self.projection {
                    Some(p) => p.forward(pre.clone()),
                    None => x,
                };
                let h = self.conv2.forward(relu(self.conv1.forward(pre)));
                (skip, h.mul_scalar(*alpha))
            }
            _ => {
                let norm = |n: &Option<Norm>, h: Tensor<4>| match n {
                    Some(n) => n.try_forward(h, mode),
                    None => Ok(h),
                };
                let pre = relu(norm(&self.norm1, x.clone())?);
                let skip = match &self.projection {
                    Some(p) => p.forward(pre.clone()),
                    None => x,
                };
                let h = self
                    .conv2
                    .forward(relu(norm(&self.norm2, self.conv1.forward(pre))?));
                let h = match &self.skip_gain {
                    Some(gain) => h.mul(gain.val().reshape([1, 1, 1, 1])),
                    None => h,
                };
                (skip, h)
            }
        };
        let skip = probe.observe(format!("block{index}.skip"), Site::Skip, skip);
        let branch = probe.observe(format!("block{index}.branch"), Site::Branch, branch);
        Ok(probe.observe(format!("block{index}"), Site::Hidden, skip.add(branch)))
    }
}

/// A pre-activation ResNet.
#[derive(Module, Debug)]
pub struct ResNet {
    /// 3×3 stem convolution.
    pub stem: Conv,
    /// Residual blocks in order.
    pub blocks: Vec<Block>,
    /// Normalizer before the classifier (Standard, SkipInit).
    pub final_norm: Option<Norm>,
    /// Classifier after global average pooling.
    pub head: Dense,
}

impl ResNetConfig {
    /// Number of residual blocks.
    pub fn num_blocks(&self) -> usize {
        self.blocks * self.stages
    }

    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Result<ResNet, NormError> {
        let ws = matches!(self.residual, Residual::NfResNet { .. });
        let stem = Conv::new(
            self.channels,
            self.width,
            3,
            self.stem_stride.max(1),
            false,
            ws,
            self.init,
            Activation::Linear,
            device,
        );
        let mut blocks = vec![];
        let (mut c, mut size) = (self.width, self.size.div_ceil(self.stem_stride.max(1)));
        let mut expected_var: f64 = 1.0;
        for stage in 0..self.stages {
            let c_out = self.width << stage;
            for b in 0..self.blocks {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                blocks.push(Block::new(
                    self,
                    c,
                    c_out,
                    stride,
                    size,
                    self.num_blocks(),
                    expected_var.sqrt(),
                    device,
                )?);
                if let Residual::NfResNet { alpha } = self.residual {
                    let transition = stride != 1 || c != c_out;
                    expected_var = if transition { 1.0 } else { expected_var } + alpha * alpha;
                }
                size /= stride;
                c = c_out;
            }
        }
        let normalized = matches!(
            self.residual,
            Residual::Standard | Residual::SkipInit { .. }
        );
        let mut head = Dense::new(c, self.classes, true, self.init, Activation::Linear, device);
        if self.residual == Residual::Fixup {
            head.weight = head.weight.map(|w| w.zeros_like());
        }
        Ok(ResNet {
            stem,
            blocks,
            final_norm: if normalized {
                Some(self.norm.init(&[c, size, size], device)?)
            } else {
                None
            },
            head,
        })
    }
}

impl ResNet {
    /// `[N, C, H, W]` → logits; records every block's skip path (`block{k}.skip`), branch
    /// (`block{k}.branch`) and output (`block{k}`).
    pub fn forward(
        &self,
        x: Tensor<4>,
        mode: Mode,
        probe: &mut Probe,
    ) -> Result<Tensor<2>, NormError> {
        let mut h = self.stem.forward(x);
        for (index, block) in self.blocks.iter().enumerate() {
            h = block.forward(h, mode, index, probe)?;
        }
        if let Some(norm) = &self.final_norm {
            h = norm.try_forward(h, mode)?;
        }
        let h = adaptive_avg_pool2d(relu(h), [1, 1]);
        let [n, c, _, _] = h.dims();
        Ok(self.head.forward(h.reshape([n, c])))
    }
}
