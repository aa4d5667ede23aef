//! The loss landscape and the Hessian spectrum with and without normalization, after training:
//! Li et al. 2018's 1D interpolations (initialisation → trained weights, and between the minima
//! of two seeds) and 2D filter-normalised plane, PyHessian's (Yao et al. 2020) top-k
//! eigenvalues, trace and spectral density, over the whole network and per block — for any
//! network of the zoo, optionally across depth.
//!
//! Per (depth, normalizer, seed): train, then on fixed training batches evaluate the landscape
//! ([`crate::metrics::landscape`], eval mode as Li et al. by default) and the Hessian spectrum
//! ([`crate::metrics::hessian`], the same mode: PyHessian's `model.eval()`). Costs, with
//! `P = interpolation.points`, `G = plane.points`, `B = eval_batches`:
//! `(P + G²)·B` forward passes for the landscape (and `P·B` more per pair of seeds), at most
//! `spectrum.max_products()` Hessian-vector products (times the blocks with `per_block`), each
//! two forward+backward passes per Hessian batch by finite differences.

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor};
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Setup, labelled};
use super::{Csv, Experiment, Results, at_least, check_norms, check_training, labels_in};
use crate::AnalysisError;
use crate::data::Dataset;
use crate::metrics::hessian::{
    BlockSpectrum, HvpMethod, Spectrum, SpectrumConfig, block_spectra, network_hessian, spectrum,
};
use crate::metrics::landscape::{
    LossSurface, Surface, barrier, interpolation, linspace, plane, random_direction,
};
use crate::metrics::training_probe::{TrainingProbe, training_probe};
use crate::models::{NetworkConfig, ParamLayout};
use crate::output::contour::{Contour, shared_range};
use crate::output::{Chart, Figure, Section, Series, Table};
use crate::train::{TrainConfig, Trainer};

/// A 1D range of coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// First coordinate.
    pub from: f64,
    /// Last coordinate.
    pub to: f64,
    /// Evenly spaced points, ends included.
    pub points: usize,
}

impl Span {
    /// The coordinates.
    pub fn values(&self) -> Vec<f64> {
        linspace(self.from, self.to, self.points)
    }

    /// Checks the span (`key` names it in errors): `2 ≤ points ≤ max_points`, finite ends of
    /// magnitude at most [`MAX_COORDINATE`], `from < to`.
    pub(crate) fn validate(&self, key: &str, max_points: usize) -> Result<(), AnalysisError> {
        at_least(format!("{key}.points"), self.points, 2)?;
        crate::error::at_most(format!("{key}.points"), self.points, max_points)?;
        for (end, value) in [("from", self.from), ("to", self.to)] {
            if !(value.is_finite() && value.abs() <= MAX_COORDINATE) {
                return Err(AnalysisError::config(
                    format!("{key}.{end}"),
                    crate::error::short(value),
                    format!(
                        "must be finite and at most {MAX_COORDINATE} in magnitude (a filter-normalised direction has the weights' norm: 1 is the trained weights' own scale)"
                    ),
                ));
            }
        }
        if self.from >= self.to {
            return Err(AnalysisError::config(
                key,
                format!("{}..{}", self.from, self.to),
                "needs from < to",
            ));
        }
        Ok(())
    }
}

/// The largest magnitude of a span's ends.
pub const MAX_COORDINATE: f64 = 100.0;
/// The most points of a 1D interpolation (Li et al.: 401).
pub const MAX_INTERPOLATION_POINTS: usize = 2_001;
/// The most points per side of a plane (Li et al.: 51; `points²` evaluations).
pub const MAX_PLANE_POINTS: usize = 401;

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LandscapeConfig {
    /// Network, data, optimizer.
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Depths compared: residual blocks per stage of a ResNet, hidden layers of an MLP (VGG has
    /// fixed variants); empty: the setup's network only.
    pub depths: Vec<usize>,
    /// Seeds; with two or more, the interpolation between the first two seeds' minima.
    pub seeds: usize,
    /// The normalizers' mode for the landscape and the Hessian (Li et al., PyHessian: eval).
    pub mode: Mode,
    /// Batches the landscape's loss is averaged over (the first training samples).
    pub eval_batches: usize,
    /// Samples per landscape batch.
    pub eval_batch_size: usize,
    /// `α` of the interpolations (Li et al.: −0.5 to 1.5, 401 points).
    pub interpolation: Span,
    /// Both coordinates of the plane (Li et al.: −1 to 1, 51 points).
    pub plane: Span,
    /// The Hessian: top-k, trace and density settings.
    pub spectrum: SpectrumConfig,
    /// How Hessian-vector products are computed.
    pub hvp: HvpMethod,
    /// Batches the Hessian is averaged over (PyHessian's dataloader mode when > 1).
    pub hessian_batches: usize,
    /// Samples per Hessian batch (PyHessian: 200).
    pub hessian_batch_size: usize,
    /// The spectrum of every block's Hessian too (PyHessian#10).
    pub per_block: bool,
    /// With exact products, also the relative difference to finite differences on this many
    /// random directions (0: none).
    pub compare_products: usize,
}

impl Default for LandscapeConfig {
    fn default() -> Self {
        // The why_batchnorm report's default network, data and optimizer.
        let setup = Setup {
            network: NetworkConfig::ResNet(crate::models::ResNetConfig {
                blocks: 4,
                stages: 1,
                width: 8,
                size: 16,
                ..Default::default()
            }),
            data: crate::data::DataSource::Synthetic(crate::data::SyntheticConfig {
                size: 16,
                train: 2048,
                test: 512,
                ..Default::default()
            }),
            train: TrainConfig {
                steps: 200,
                batch_size: 32,
                lr: 0.1,
                log_every: 0,
                ..Default::default()
            },
        };
        LandscapeConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            depths: vec![],
            seeds: 2,
            mode: Mode::Eval,
            eval_batches: 2,
            eval_batch_size: 128,
            interpolation: Span {
                from: -0.5,
                to: 1.5,
                points: 21,
            },
            plane: Span {
                from: -1.0,
                to: 1.0,
                points: 15,
            },
            spectrum: SpectrumConfig::default(),
            hvp: HvpMethod::FiniteDifference,
            hessian_batches: 1,
            hessian_batch_size: 128,
            per_block: false,
            compare_products: 0,
        }
    }
}

/// One trained network's landscape and spectrum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapeRun {
    /// Normalizer label.
    pub norm: String,
    /// Depth (blocks per stage, hidden layers), `None` for the setup's network.
    pub depth: Option<usize>,
    /// Seed.
    pub seed: u64,
    /// Mean training loss over the last 10 steps.
    pub final_loss: f64,
    /// The step whose loss diverged (then nothing else was measured).
    pub diverged_at: Option<usize>,
    /// `(α, L)` from the initialisation (`α = 0`) to the trained weights (`α = 1`).
    pub init_to_final: Vec<(f64, f64)>,
    /// The loss on the filter-normalised plane through the trained weights.
    pub surface: Option<Surface>,
    /// The Hessian's spectrum at the trained weights.
    pub spectrum: Option<Spectrum>,
    /// The spectrum of every block's Hessian (with `per_block`).
    pub blocks: Vec<BlockSpectrum>,
    /// Mean `‖Hv_fd − Hv_exact‖/‖Hv_exact‖` over random unit `v` (with exact products and
    /// `compare_products > 0`).
    pub product_difference: Option<f64>,
    /// The mechanisms' probes at step 0 and after training, on the first landscape batch.
    pub probes: Vec<TrainingProbe>,
    /// Wall-clock seconds of each phase.
    pub seconds: Seconds,
}

/// Where a run's time went (wall clock, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Seconds {
    /// Training.
    pub train: f64,
    /// The two training probes.
    pub probes: f64,
    /// The interpolation from the initialisation and the plane.
    pub landscape: f64,
    /// The spectrum (and the per-block spectra).
    pub hessian: f64,
}

/// The interpolation between the minima of two seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BetweenMinima {
    /// Normalizer label.
    pub norm: String,
    /// Depth, as in [`LandscapeRun::depth`].
    pub depth: Option<usize>,
    /// The two seeds (`α = 0`, `α = 1`).
    pub seeds: (u64, u64),
    /// `(α, L)`.
    pub path: Vec<(f64, f64)>,
    /// [`barrier`] of the path.
    pub barrier: f64,
}

/// The experiment's configuration and measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapeResults {
    /// What ran.
    pub config: LandscapeConfig,
    /// Every trained network.
    pub runs: Vec<LandscapeRun>,
    /// The interpolations between minima.
    pub between: Vec<BetweenMinima>,
}

fn network_at(
    setup: &Setup,
    data: &Dataset,
    norm: &NormConfig,
    depth: Option<usize>,
) -> NetworkConfig {
    let mut network = setup.network_for(data, norm);
    if let Some(depth) = depth {
        match &mut network {
            NetworkConfig::ResNet(c) => c.blocks = depth,
            NetworkConfig::Mlp(c) => c.depth = depth,
            NetworkConfig::Vgg(_) => unreachable!("validate refuses depths for a VGG"),
        }
    }
    network
}

/// The first `batches · size` training samples in batches of `size` on `device`.
fn fixed_batches(
    data: &Dataset,
    batches: usize,
    size: usize,
    device: &Device,
) -> Vec<(Tensor<4>, Tensor<1, Int>)> {
    let size = size.min(data.len());
    (0..batches)
        .map(|b| b * size)
        .take_while(|start| start + size <= data.len())
        .map(|start| data.batch(&(start..start + size).collect::<Vec<_>>(), device))
        .collect()
}

/// Mean `‖a − b‖/‖b‖` of the two Hessians' products over `count` seeded random unit vectors.
fn product_difference(
    a: &mut dyn crate::metrics::hessian::HessianVectorProduct,
    b: &mut dyn crate::metrics::hessian::HessianVectorProduct,
    count: usize,
    seed: u64,
) -> Result<f64, AnalysisError> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut total = 0.0;
    for _ in 0..count {
        let v: Vec<f64> = (0..a.dim())
            .map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal))
            .collect();
        let n = crate::train::norm(&v);
        let v: Vec<f64> = v.iter().map(|x| x / n).collect();
        let (ha, hb) = (a.apply(&v)?, b.apply(&v)?);
        let diff: Vec<f64> = ha.iter().zip(&hb).map(|(x, y)| x - y).collect();
        total += crate::train::norm(&diff) / crate::train::norm(&hb);
    }
    Ok(total / count as f64)
}

impl Experiment for LandscapeConfig {
    const NAME: &'static str = "landscape";
    const LABEL: &'static str = "loss landscape";
    type Results = LandscapeResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let (train, _) = self.setup.data.load()?;
        let depths: Vec<Option<usize>> = if self.depths.is_empty() {
            vec![None]
        } else {
            self.depths.iter().map(|&d| Some(d)).collect()
        };
        let norms = labelled(&self.norms);
        bar.set_length((depths.len() * norms.len() * self.seeds) as u64);
        let (mut runs, mut between) = (vec![], vec![]);
        for &depth in &depths {
            for (label, norm) in &norms {
                let network = network_at(&self.setup, &train, norm, depth);
                let mut minima = vec![];
                for s in 0..self.seeds {
                    let seed = self.setup.train.seed + s as u64;
                    bar.set_message(format!("{label} seed {seed}"));
                    let (run, trained) =
                        self.run_one(label, depth, &network, seed, &train, device)?;
                    runs.push(run);
                    if let Some(state) = trained {
                        minima.push((seed, state));
                    }
                    bar.inc(1);
                }
                if let [(s0, first), (s1, second), ..] = minima.as_slice() {
                    let batches =
                        fixed_batches(&train, self.eval_batches, self.eval_batch_size, device);
                    let model = network.init(&device.clone().autodiff())?;
                    let mut surface = LossSurface::new(&network, &model, batches, self.mode, *s0)?;
                    let path = interpolation(
                        &mut |w: &[f64]| surface.loss(w),
                        first,
                        second,
                        &self.interpolation.values(),
                    )?;
                    between.push(BetweenMinima {
                        norm: label.clone(),
                        depth,
                        seeds: (*s0, *s1),
                        barrier: barrier(&path),
                        path,
                    });
                }
            }
        }
        Ok(LandscapeResults {
            config: self.clone(),
            runs,
            between,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        at_least("eval_batches", self.eval_batches, 1)?;
        at_least("eval_batch_size", self.eval_batch_size, 2)?;
        at_least("hessian_batches", self.hessian_batches, 1)?;
        at_least("hessian_batch_size", self.hessian_batch_size, 2)?;
        self.interpolation
            .validate("interpolation", MAX_INTERPOLATION_POINTS)?;
        self.plane.validate("plane", MAX_PLANE_POINTS)?;
        self.spectrum.validate("spectrum")?;
        if let Some(&bad) = self.depths.iter().find(|&&d| d == 0) {
            return Err(AnalysisError::Config {
                key: "depths".into(),
                value: bad.to_string(),
                reason: "a depth is at least 1".into(),
            });
        }
        if !self.depths.is_empty() && matches!(self.setup.network, NetworkConfig::Vgg(_)) {
            return Err(AnalysisError::Config {
                key: "depths".into(),
                value: format!("{:?}", self.depths),
                reason: "a VGG's depth is its variant; sweep depths with a ResNet or an MLP".into(),
            });
        }
        check_training(&self.setup, self.seeds)
    }

    super::seeds!(training);
}

impl LandscapeConfig {
    /// Trains one network (`network`, labelled `label`) and measures it; returns the run and
    /// the trained state vector (none when training diverged).
    pub fn run_one(
        &self,
        label: &str,
        depth: Option<usize>,
        network: &NetworkConfig,
        seed: u64,
        train: &Dataset,
        device: &Device,
    ) -> Result<(LandscapeRun, Option<Vec<f64>>), AnalysisError> {
        let train_config = TrainConfig {
            seed,
            ..self.setup.train.clone()
        };
        let mut trainer = Trainer::new(network, train_config, device)?;
        let init = ParamLayout::with_buffers(&trainer.model).values(&trainer.model);
        let mut run = LandscapeRun {
            norm: label.to_string(),
            depth,
            seed,
            final_loss: f64::NAN,
            diverged_at: None,
            init_to_final: vec![],
            surface: None,
            spectrum: None,
            blocks: vec![],
            product_difference: None,
            probes: vec![],
            seconds: Seconds::default(),
        };
        let (probe_x, probe_y) = fixed_batches(train, 1, self.eval_batch_size, device)
            .pop()
            .expect("validate keeps a batch");
        let clock = Instant::now();
        run.probes.push(training_probe(
            network,
            &trainer.model,
            probe_x.clone(),
            probe_y.clone(),
            0,
            seed,
        )?);
        run.seconds.probes = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        while trainer.step < self.setup.train.steps {
            match trainer.train_step(train) {
                Ok(_) => {}
                Err(AnalysisError::Diverged { step, .. }) => {
                    run.diverged_at = Some(step);
                    return Ok((run, None));
                }
                Err(e) => return Err(e),
            }
        }
        let tail = &trainer.losses[trainer.losses.len().saturating_sub(10)..];
        run.final_loss = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
        run.seconds.train = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        run.probes.push(training_probe(
            network,
            &trainer.model,
            probe_x,
            probe_y,
            trainer.step,
            seed,
        )?);
        run.seconds.probes += clock.elapsed().as_secs_f64();

        let clock = Instant::now();

        let batches = fixed_batches(train, self.eval_batches, self.eval_batch_size, device);
        let mut surface = LossSurface::new(network, &trainer.model, batches, self.mode, seed)?;
        let center = surface.center();
        let mut loss = |w: &[f64]| surface.loss(w);
        run.init_to_final = interpolation(&mut loss, &init, &center, &self.interpolation.values())?;
        let layout = ParamLayout::with_buffers(&trainer.model);
        let delta = random_direction(&layout, &center, seed.wrapping_mul(2).wrapping_add(1));
        let eta = random_direction(&layout, &center, seed.wrapping_mul(2).wrapping_add(2));
        let grid = self.plane.values();
        run.surface = Some(plane(&mut loss, &center, &delta, &eta, &grid, &grid)?);
        run.seconds.landscape = clock.elapsed().as_secs_f64();

        let clock = Instant::now();

        let hessian_data =
            fixed_batches(train, self.hessian_batches, self.hessian_batch_size, device);
        let mut h = network_hessian(
            network,
            &trainer.model,
            &hessian_data,
            self.mode,
            seed,
            self.hvp,
        )?;
        run.spectrum = Some(spectrum(h.as_mut(), &self.spectrum, seed)?);
        if self.per_block {
            let layout = ParamLayout::of(&trainer.model);
            run.blocks = block_spectra(h.as_mut(), &layout, &self.spectrum, seed)?;
        }
        if self.hvp == HvpMethod::Exact && self.compare_products > 0 {
            let mut fd = network_hessian(
                network,
                &trainer.model,
                &hessian_data,
                self.mode,
                seed,
                HvpMethod::FiniteDifference,
            )?;
            run.product_difference = Some(product_difference(
                fd.as_mut(),
                h.as_mut(),
                self.compare_products,
                seed,
            )?);
        }
        run.seconds.hessian = clock.elapsed().as_secs_f64();
        Ok((run, Some(center)))
    }
}

fn depth_name(depth: Option<usize>) -> String {
    depth.map(|d| d.to_string()).unwrap_or_else(|| "—".into())
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "—".into()
    }
}

/// Contour plots with their file stems.
pub type NamedContours = Vec<(String, Contour)>;

impl LandscapeResults {
    /// The runs of the first seed, one per (depth, normalizer) that did not diverge.
    fn first_seed(&self) -> Vec<&LandscapeRun> {
        let first = self.config.setup.train.seed;
        self.runs
            .iter()
            .filter(|r| r.seed == first && r.diverged_at.is_none())
            .collect()
    }

    /// The 2D contours of the first seed's runs, one per (depth, normalizer), all on one colour
    /// scale (log of the loss): `(depth, file stem, contour)`.
    fn contours_with_depth(&self) -> Vec<(Option<usize>, String, Contour)> {
        let mut contours: Vec<(Option<usize>, String, Contour)> = self
            .first_seed()
            .into_iter()
            .filter_map(|r| {
                let s = r.surface.as_ref()?;
                let depth = r.depth.map(|d| format!(" depth {d}")).unwrap_or_default();
                let stem = format!(
                    "landscape_plane_{}{}",
                    r.norm
                        .to_lowercase()
                        .replace(|c: char| !c.is_alphanumeric(), "_"),
                    r.depth.map(|d| format!("_depth{d}")).unwrap_or_default()
                );
                let contour = Contour::new(
                    format!("{}{depth}: loss on a filter-normalised plane", r.norm),
                    "x (along δ)",
                    "y (along η)",
                    "loss",
                    s.xs.clone(),
                    s.ys.clone(),
                    s.loss.clone(),
                )
                .log_scale()
                .with_marker((0.0, 0.0), "trained weights");
                Some((r.depth, stem, contour))
            })
            .collect();
        let range = shared_range(&contours.iter().map(|(_, _, c)| c).collect::<Vec<_>>());
        for (_, _, c) in &mut contours {
            c.range = range;
        }
        contours
    }

    /// The 2D contours of the first seed's runs, one per (depth, normalizer), all on one colour
    /// scale (log of the loss): `(file stem, contour)`.
    pub fn contours(&self) -> NamedContours {
        self.contours_with_depth()
            .into_iter()
            .map(|(_, stem, contour)| (stem, contour))
            .collect()
    }

    /// [`contours`](Self::contours) grouped by depth, in the runs' order of depths: one row
    /// per depth (every normalizer side by side), every plot on the one colour scale.
    pub fn contours_by_depth(&self) -> Vec<(Option<usize>, NamedContours)> {
        let mut rows: Vec<(Option<usize>, NamedContours)> = vec![];
        for (depth, stem, contour) in self.contours_with_depth() {
            match rows.iter_mut().find(|(d, _)| *d == depth) {
                Some((_, row)) => row.push((stem, contour)),
                None => rows.push((depth, vec![(stem, contour)])),
            }
        }
        rows
    }

    /// The interpolations from the initialisation to the trained weights (first seed).
    pub fn init_to_final_figure(&self) -> Figure {
        let mut chart = Chart::new(
            "Loss from the initialisation (α = 0) to the trained weights (α = 1)",
            "α",
            "loss",
        )
        .log_y();
        for r in self.first_seed() {
            let name = match r.depth {
                Some(d) => format!("{} depth {d}", r.norm),
                None => r.norm.clone(),
            };
            chart.push(Series::line(name, r.init_to_final.clone()));
        }
        Figure::new(
            "landscape_init_to_final",
            "Li et al.'s 1D linear interpolation of the whole state (running statistics included), eval mode.",
            chart,
        )
    }

    /// The interpolations between two seeds' minima.
    pub fn between_minima_figure(&self) -> Figure {
        let mut chart = Chart::new(
            "Loss between the minima of two seeds (α = 0, α = 1)",
            "α",
            "loss",
        )
        .log_y();
        for b in &self.between {
            let name = match b.depth {
                Some(d) => format!("{} depth {d}", b.norm),
                None => b.norm.clone(),
            };
            chart.push(Series::line(name, b.path.clone()));
        }
        Figure::new(
            "landscape_between_minima",
            "Li et al.'s 1D interpolation between two minima, running statistics included.",
            chart,
        )
    }

    /// The spectral densities of the first seed's runs (PyHessian's ESD plot, log density).
    pub fn density_figure(&self) -> Figure {
        let mut chart =
            Chart::new("Hessian eigenvalue density (SLQ)", "eigenvalue", "density").log_y();
        for r in self.first_seed() {
            let Some(density) = r.spectrum.as_ref().and_then(|s| s.density.as_ref()) else {
                continue;
            };
            let name = match r.depth {
                Some(d) => format!("{} depth {d}", r.norm),
                None => r.norm.clone(),
            };
            let points = density
                .broadened(400, 1e-5)
                .into_iter()
                .map(|(t, p)| (t, p + 1e-7))
                .collect();
            chart.push(Series::line(name, points));
        }
        Figure::new(
            "hessian_density",
            "Stochastic Lanczos quadrature with PyHessian's Gaussian broadening (σ² = 10⁻⁵·range), + 10⁻⁷ as PyHessian plots it.",
            chart,
        )
    }

    /// λ_max and the trace over depth, per normalizer (mean over seeds).
    pub fn depth_figures(&self) -> Vec<Figure> {
        if self.config.depths.is_empty() {
            return vec![];
        }
        let mut lambda =
            Chart::new("Largest Hessian eigenvalue across depth", "depth", "λ_max").log_y();
        let mut trace = Chart::new("Hessian trace across depth", "depth", "trace").log_y();
        for label in labels_in(&self.runs, |r| r.norm.as_str()) {
            let mean_at = |d: usize, f: &dyn Fn(&Spectrum) -> Option<f64>| {
                let values: Vec<f64> = self
                    .runs
                    .iter()
                    .filter(|r| r.norm == label && r.depth == Some(d))
                    .filter_map(|r| r.spectrum.as_ref().and_then(f))
                    .collect();
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
            };
            let series = |f: &dyn Fn(&Spectrum) -> Option<f64>| -> Vec<(f64, f64)> {
                self.config
                    .depths
                    .iter()
                    .filter_map(|&d| mean_at(d, f).map(|v| (d as f64, v)))
                    .collect()
            };
            lambda.push(Series::line(label, series(&|s| Some(s.lambda_max()))));
            trace.push(Series::line(label, series(&|s| s.trace.map(|t| t.value))));
        }
        vec![
            Figure::new(
                "hessian_lambda_max_depth",
                "PyHessian's top eigenvalue, mean over seeds.",
                lambda,
            ),
            Figure::new(
                "hessian_trace_depth",
                "Hutchinson's trace, mean over seeds.",
                trace,
            ),
        ]
    }
}

impl Results for LandscapeResults {
    fn section(&self) -> Section {
        let c = &self.config;
        let mut table = Table::new(&[
            "norm",
            "depth",
            "seed",
            "final train loss",
            "L(θ*)",
            "barrier init→θ*",
            "curvature δ, η",
            "top eigenvalues",
            "trace ± s.e.",
            "HVPs",
        ]);
        for r in &self.runs {
            if let Some(step) = r.diverged_at {
                table.row(vec![
                    r.norm.clone(),
                    depth_name(r.depth),
                    r.seed.to_string(),
                    format!("diverged at step {step}"),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                ]);
                continue;
            }
            let s = r.spectrum.as_ref();
            table.row(vec![
                r.norm.clone(),
                depth_name(r.depth),
                r.seed.to_string(),
                fmt(r.final_loss),
                r.surface
                    .as_ref()
                    .map(|s| fmt(s.at_center()))
                    .unwrap_or_default(),
                fmt(barrier(&r.init_to_final)),
                r.surface
                    .as_ref()
                    .and_then(|s| s.curvature())
                    .map(|(a, b)| format!("{a:.3}, {b:.3}"))
                    .unwrap_or_else(|| "—".into()),
                s.map(|s| {
                    s.top
                        .iter()
                        .map(|t| format!("{:.3}{}", t.value, if t.converged { "" } else { "*" }))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
                s.and_then(|s| s.trace)
                    .map(|t| format!("{:.2} ± {:.2}", t.value, t.std_error))
                    .unwrap_or_else(|| "—".into()),
                s.map(|s| s.products.to_string()).unwrap_or_default(),
            ]);
        }
        let mut section = LandscapeConfig::new_section(
            "The loss landscape and the Hessian spectrum with and without normalization",
        )
        .paragraph(format!(
            "After {} steps, in {} mode on {} fixed training batches of {}: Li et al. 2018's 1D interpolations (the whole state, running statistics included) and a {}×{} filter-normalised plane through the trained weights θ*; PyHessian's top-{} eigenvalues (power iteration with deflation; * = not converged in {} iterations), Hutchinson trace ({} probes) and spectral density ({} Lanczos steps) on {} batch(es) of {}, by {} Hessian-vector products.",
            c.setup.train.steps,
            format!("{:?}", c.mode).to_lowercase(),
            c.eval_batches,
            c.eval_batch_size,
            c.plane.points,
            c.plane.points,
            c.spectrum.top_k,
            c.spectrum.max_iterations,
            c.spectrum.trace_samples,
            c.spectrum.lanczos_steps,
            c.hessian_batches,
            c.hessian_batch_size,
            match c.hvp {
                HvpMethod::FiniteDifference => "finite-difference",
                HvpMethod::Exact => "exact (libtorch double backward)",
            }
        ))
        .table(table)
        .figure(self.init_to_final_figure());
        if !self.between.is_empty() {
            let between = Table::of(
                &["norm", "depth", "seeds", "barrier", "L(α = 0.5)"],
                &self.between,
                |b| {
                    let mid = b
                        .path
                        .iter()
                        .min_by(|x, y| (x.0 - 0.5).abs().total_cmp(&(y.0 - 0.5).abs()))
                        .map(|p| p.1)
                        .unwrap_or(f64::NAN);
                    vec![
                        b.norm.clone(),
                        depth_name(b.depth),
                        format!("{}, {}", b.seeds.0, b.seeds.1),
                        fmt(b.barrier),
                        fmt(mid),
                    ]
                },
            );
            section = section.table(between).figure(self.between_minima_figure());
        }
        section = section
            .figure(self.density_figure())
            .figures(self.depth_figures());
        let blocks: Vec<&LandscapeRun> = self
            .first_seed()
            .into_iter()
            .filter(|r| !r.blocks.is_empty())
            .collect();
        if !blocks.is_empty() {
            let mut table = Table::new(&["norm", "depth", "block", "parameters", "λ_max", "trace"]);
            for r in blocks {
                for b in &r.blocks {
                    table.row(vec![
                        r.norm.clone(),
                        depth_name(r.depth),
                        b.block.clone(),
                        b.spectrum.dim.to_string(),
                        fmt(b.spectrum.lambda_max()),
                        b.spectrum
                            .trace
                            .map(|t| fmt(t.value))
                            .unwrap_or_else(|| "—".into()),
                    ]);
                }
            }
            section = section
                .paragraph("The Hessian restricted to each block's parameters (first seed):")
                .table(table);
        }
        let mut probes = Table::new(&[
            "norm",
            "depth",
            "step",
            "rank / N",
            "mean cosine",
            "branch share",
            "‖∂L/∂H‖² last",
            "seconds: train, probes, landscape, Hessian",
        ]);
        for r in self.first_seed() {
            for p in &r.probes {
                probes.row(vec![
                    r.norm.clone(),
                    depth_name(r.depth),
                    p.step.to_string(),
                    fmt(p.rank),
                    fmt(p.mean_cosine()),
                    fmt(p.branch_share),
                    p.grad_norms
                        .last()
                        .map(|g| format!("{g:.3e}"))
                        .unwrap_or_default(),
                    format!(
                        "{:.1}, {:.2}, {:.1}, {:.1}",
                        r.seconds.train, r.seconds.probes, r.seconds.landscape, r.seconds.hessian
                    ),
                ]);
            }
        }
        section = section
            .paragraph("The mechanisms' probes at initialization and after training (train mode, first landscape batch; first seed):")
            .table(probes);
        if let Some(d) = self.runs.iter().find_map(|r| r.product_difference) {
            section = section.paragraph(format!(
                "Finite-difference against exact Hessian-vector products on the same networks: mean relative difference {d:.2e} (first run)."
            ));
        }
        section.paragraph(format!(
            "The filter-normalised planes are drawn as contour plots on one colour scale: {} (PNG and SVG beside this page).",
            self.contours()
                .iter()
                .map(|(stem, _)| stem.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .paragraph(
            "Li et al. 2018: skip connections keep deep networks' landscapes convex-looking where networks without them turn chaotic. Yao et al. 2020 (PyHessian): BN does not necessarily make the landscape smoother, especially for shallow networks.",
        )
    }

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "norm",
            "depth",
            "seed",
            "final_loss",
            "center_loss",
            "barrier_init_final",
            "lambda_max",
            "lambda_2",
            "trace",
            "trace_std_error",
            "density_mean",
            "density_second_moment",
            "products",
        ]);
        for r in &self.runs {
            let s = r.spectrum.as_ref();
            let top = |k: usize| {
                s.and_then(|s| s.top.get(k))
                    .map(|t| t.value.to_string())
                    .unwrap_or_default()
            };
            let density = s.and_then(|s| s.density.as_ref());
            csv.row(vec![
                r.norm.clone(),
                r.depth.map(|d| d.to_string()).unwrap_or_default(),
                r.seed.to_string(),
                r.final_loss.to_string(),
                r.surface
                    .as_ref()
                    .map(|s| s.at_center().to_string())
                    .unwrap_or_default(),
                barrier(&r.init_to_final).to_string(),
                top(0),
                top(1),
                s.and_then(|s| s.trace)
                    .map(|t| t.value.to_string())
                    .unwrap_or_default(),
                s.and_then(|s| s.trace)
                    .map(|t| t.std_error.to_string())
                    .unwrap_or_default(),
                density.map(|d| d.moment(1).to_string()).unwrap_or_default(),
                density.map(|d| d.moment(2).to_string()).unwrap_or_default(),
                s.map(|s| s.products.to_string()).unwrap_or_default(),
            ]);
        }
        csv
    }
}
