//! Your own burn model with normscope's normalizers — the code to copy.
//!
//! A small CNN written with burn's `Conv2d` and `Linear`, its two normalizers built from one TOML
//! `NormConfig`, trained a few Adam steps on burn-ndarray (CPU; any device works), then fine-tuned
//! with frozen statistics (torchvision's `FrozenBatchNorm2d`) and finally folded for inference
//! (each normalizer into the convolution before it). It prints the losses, whether the frozen steps
//! left the running statistics alone, and how far the folded model's logits are from the
//! unfolded model's eval-mode logits.
//!
//! ```sh
//! cargo run --release --example custom_model
//! cargo run --release --example custom_model -- --norm 'kind = "group_norm"
//! groups = 4'
//! ```
#![allow(deprecated)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use normscope::{Identity, Mode, Norm, NormConfig, NormError, Normalization, freeze_statistics};

/// The normalizer the example uses unless `--norm` says otherwise. Any kind works
/// (`docs/architecture.md` lists them); `momentum = "cumulative"` is PyTorch's `momentum=None`,
/// the plain average over every batch seen — for re-estimating statistics at fixed weights
/// rather than for training, where it keeps the statistics of the first, long-gone weights.
pub const DEFAULT_NORM: &str = r#"
kind = "batch_norm"
momentum = 0.1
"#;

/// conv(1 → 8) → norm → ReLU → conv(8 → 8) → norm → ReLU → global average pool → linear.
#[derive(Module, Debug)]
pub struct SmallCnn {
    conv1: Conv2d,
    norm1: Norm,
    conv2: Conv2d,
    norm2: Norm,
    head: Linear,
}

impl SmallCnn {
    /// The model with `norm` after each convolution, on `device`.
    pub fn new(norm: &NormConfig, device: &Device) -> Result<SmallCnn, NormError> {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        Ok(SmallCnn {
            conv1: conv(1, 8),
            // `[C, H, W]` of one sample: LayerNorm normalizes all of it, the others use `C`.
            norm1: norm.init(&[8, SIZE, SIZE], device)?,
            conv2: conv(8, 8),
            norm2: norm.init(&[8, SIZE, SIZE], device)?,
            head: LinearConfig::new(8, CLASSES).init(device),
        })
    }

    /// `[N, 1, 8, 8]` → logits `[N, 3]`. The mode is explicit: train mode uses batch
    /// statistics (unless frozen) and updates the running ones.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Result<Tensor<2>, NormError> {
        let h = relu(self.norm1.try_forward(self.conv1.forward(x), mode)?);
        let h = relu(self.norm2.try_forward(self.conv2.forward(h), mode)?);
        let [n, c, _, _] = h.dims();
        Ok(self
            .head
            .forward(adaptive_avg_pool2d(h, [1, 1]).reshape([n, c])))
    }

    /// The model for inference: each normalizer with running statistics folded into the
    /// convolution before it (and replaced by the identity); others (GroupNorm, LayerNorm, …)
    /// stay. Computes the eval-mode logits.
    pub fn fold(self) -> Result<SmallCnn, NormError> {
        let (conv1, norm1) = fold_conv(self.conv1, self.norm1)?;
        let (conv2, norm2) = fold_conv(self.conv2, self.norm2)?;
        Ok(SmallCnn {
            conv1,
            norm1,
            conv2,
            norm2,
            head: self.head,
        })
    }
}

/// `norm ∘ conv` as one convolution, when `norm` is a fixed per-channel map in eval mode.
fn fold_conv(conv: Conv2d, norm: Norm) -> Result<(Conv2d, Norm), NormError> {
    let affine = match norm.eval_affine() {
        Ok(affine) => affine,
        Err(NormError::NoRunningStatistics { .. }) => return Ok((conv, norm)),
        Err(e) => return Err(e),
    };
    let bias = conv.bias.as_ref().map(|b| b.val());
    let (weight, bias) = affine.fold_into_conv(conv.weight.val(), bias)?;
    let folded = Conv2d {
        weight: Param::from_tensor(weight.detach()),
        bias: Some(Param::from_tensor(bias.detach())),
        ..conv
    };
    Ok((folded, Norm::Identity(Identity)))
}

/// Every running statistic of a model (the float tensors that do not train: running means and
/// variances, `num_batches_tracked`), flattened.
pub fn running_statistics<M: Module>(model: &M) -> Vec<f32> {
    struct Buffers(Vec<f32>);
    impl ModuleVisitor for Buffers {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if !value.is_require_grad() {
                self.0.extend(value.into_data().iter::<f32>());
            }
        }
    }
    let mut buffers = Buffers(vec![]);
    model.visit(&mut buffers);
    buffers.0
}

const SIZE: usize = 8;
const CLASSES: usize = 3;
const BATCH: usize = 32;

/// A batch of the synthetic task: class 0 brightens the top half of an 8×8 image, class 1 the
/// left half, class 2 the right half, under unit Gaussian noise.
fn batch(device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let labels: Vec<i64> = (0..BATCH).map(|i| (i % CLASSES) as i64).collect();
    let mut pattern = vec![0.0f32; BATCH * SIZE * SIZE];
    for (i, &label) in labels.iter().enumerate() {
        for r in 0..SIZE {
            for c in 0..SIZE {
                let lit = match label {
                    0 => r < SIZE / 2,
                    1 => c < SIZE / 2,
                    _ => c >= SIZE / 2,
                };
                pattern[(i * SIZE + r) * SIZE + c] = if lit { 1.5 } else { 0.0 };
            }
        }
    }
    let shape = [BATCH, 1, SIZE, SIZE];
    let noise = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let x = noise.add(Tensor::from_data(TensorData::new(pattern, shape), device));
    let y = Tensor::from_data(TensorData::new(labels, [BATCH]), device);
    (x, y)
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Cross-entropy of every step: the training steps, then the frozen fine-tuning steps.
    pub losses: Vec<f64>,
    /// How many running-statistic values the model has (0 without BatchNorm-like layers).
    pub statistics: usize,
    /// Whether the training steps (statistics not frozen) moved the running statistics.
    pub statistics_moved_in_training: bool,
    /// Whether the frozen fine-tuning steps left every running statistic as it was.
    pub frozen_statistics_unchanged: bool,
    /// max |folded − unfolded| over the eval-mode logits of a fresh batch.
    pub fold_max_abs_diff: f64,
    /// Accuracy of the folded model on that batch.
    pub accuracy: f64,
}

/// One Adam step (learning rate 0.01) in train mode; returns the model and the loss.
fn step(
    model: SmallCnn,
    optimizer: &mut ModuleOptimizer,
    device: &Device,
) -> Result<(SmallCnn, f64), NormError> {
    let (x, y) = batch(device);
    let logits = model.forward(x, Mode::Train)?;
    let loss = CrossEntropyLossConfig::new()
        .init(device)
        .forward(logits, y);
    let value = loss.clone().into_scalar::<f32>() as f64;
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok((optimizer.step(1e-2, model, grads), value))
}

/// Trains a [`SmallCnn`] with `norm` for `steps` steps, fine-tunes it `frozen_steps` more with
/// frozen statistics, folds it, and measures the outcome. Seeded: the same arguments give the
/// same numbers.
pub fn run(norm: &NormConfig, steps: usize, frozen_steps: usize) -> Result<Outcome, NormError> {
    let device = Device::ndarray().autodiff();
    device.seed(0);
    let mut model = SmallCnn::new(norm, &device)?;
    let initial = running_statistics(&model);
    let mut optimizer = AdamConfig::new().init();
    let mut losses = vec![];
    for _ in 0..steps {
        let (next, loss) = step(model, &mut optimizer, &device)?;
        model = next;
        losses.push(loss);
    }
    // Fine-tune with the statistics frozen: train mode now normalizes with the running
    // statistics and leaves them; the convolutions, γ and β keep training.
    let before = running_statistics(&model);
    let statistics_moved_in_training = before != initial;
    model = freeze_statistics(model);
    for _ in 0..frozen_steps {
        let (next, loss) = step(model, &mut optimizer, &device)?;
        model = next;
        losses.push(loss);
    }
    let frozen_statistics_unchanged = running_statistics(&model) == before;

    let (x, y) = batch(&device);
    let unfolded = model.forward(x.clone(), Mode::Eval)?;
    let folded = model.fold()?.forward(x, Mode::Eval)?;
    let fold_max_abs_diff = folded
        .clone()
        .sub(unfolded)
        .abs()
        .max()
        .into_scalar::<f32>() as f64;
    let predicted: Vec<i64> = folded.argmax(1).into_data().iter::<i64>().collect();
    let labels: Vec<i64> = y.into_data().iter::<i64>().collect();
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(Outcome {
        losses,
        statistics: before.len(),
        statistics_moved_in_training,
        frozen_statistics_unchanged,
        fold_max_abs_diff,
        accuracy: correct as f64 / labels.len() as f64,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut norm, mut steps) = (DEFAULT_NORM.to_string(), 40);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--norm" => norm = args.next().ok_or("--norm takes a TOML NormConfig")?,
            "--steps" => steps = args.next().ok_or("--steps takes a number")?.parse()?,
            "-h" | "--help" => {
                println!(
                    "custom_model [--norm TOML] [--steps N]   (default: {DEFAULT_NORM:?}, 40)"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let norm: NormConfig = toml::from_str(&norm)?;
    norm.validate()?;
    let outcome = run(&norm, steps, 10)?;
    let losses = &outcome.losses;
    println!(
        "{}: loss {:.3} → {:.3} after {steps} steps, {:.3} after 10 more with frozen statistics",
        norm.label(),
        losses[0],
        losses[steps - 1],
        losses[losses.len() - 1]
    );
    println!(
        "frozen steps left the running statistics unchanged: {}",
        outcome.frozen_statistics_unchanged
    );
    println!(
        "folded for inference: max |folded − unfolded| over the eval logits = {:.2e}, accuracy {:.0}%",
        outcome.fold_max_abs_diff,
        100.0 * outcome.accuracy
    );
    Ok(())
}
