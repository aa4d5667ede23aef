//! The units of a run: what one unit is ([`UnitId`], [`UnitKind`]), which units a
//! configuration has ([`plan`]), how they are stored in a run directory ([`store`]), what one
//! unit measures ([`measure`]) and how a process runs a selection of them ([`execute`]).

pub mod execute;
pub mod measure;
pub mod plan;
pub mod store;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{Entry, ReportConfig, slug};

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitKind {
    /// Identity bias, rank and gradient norms at initialization ([`measure::InitUnit`]).
    Init,
    /// One training run with its probes ([`measure::TrainUnit`]).
    Train,
    /// One run of the learning-rate sweep ([`measure::SweepUnit`]).
    Lr,
    /// One run of the depth sweep: a depth and a learning rate ([`measure::SweepUnit`]).
    Depth,
    /// One run of the batch-size sweep at the deepest depth: a batch size and a learning rate.
    Batch,
    /// One run of the plain-network (rank) sweep: a depth and a learning rate.
    Rank,
    /// A trained network's loss landscape and Hessian spectrum at one depth
    /// ([`measure::LandscapeUnit`]).
    Landscape,
}

/// A sweep's grid point: the coordinates a run was trained at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// Residual blocks per stage (depth and batch sweeps) or hidden layers (rank sweep); the
    /// battery's network's for the learning-rate sweep.
    pub depth: usize,
    /// The learning rate.
    pub lr: f64,
    /// The batch size.
    pub batch_size: usize,
}

// A grid's learning rates are validated finite, so `==` on them is an equivalence and equal
// points hash alike (by bits; no grid holds both 0.0 and -0.0).
impl Eq for GridPoint {}

impl std::hash::Hash for GridPoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.depth, self.lr.to_bits(), self.batch_size).hash(state);
    }
}

impl UnitKind {
    /// Every kind, in the order of a plan.
    pub const ALL: [UnitKind; 7] = [
        UnitKind::Init,
        UnitKind::Train,
        UnitKind::Lr,
        UnitKind::Depth,
        UnitKind::Batch,
        UnitKind::Rank,
        UnitKind::Landscape,
    ];

    /// `init`, `train`, `lr`, `depth`, `batch`, `rank` or `landscape`, as in the unit's id.
    pub fn name(self) -> &'static str {
        match self {
            UnitKind::Init => "init",
            UnitKind::Train => "train",
            UnitKind::Lr => "lr",
            UnitKind::Depth => "depth",
            UnitKind::Batch => "batch",
            UnitKind::Rank => "rank",
            UnitKind::Landscape => "landscape",
        }
    }

    /// The arms units of this kind are drawn from.
    pub fn entries(self, config: &ReportConfig) -> &[Entry] {
        match self {
            UnitKind::Init | UnitKind::Train => &config.normalizers,
            UnitKind::Lr => &config.interventions.lr_normalizers,
            UnitKind::Depth | UnitKind::Batch => &config.interventions.depth_normalizers,
            UnitKind::Rank => &config.interventions.rank.normalizers,
            UnitKind::Landscape => &config.landscape.normalizers,
        }
    }

    /// Training steps of one unit at `point` (1 for the at-initialization measurements): a batch
    /// sweep's run sees as many samples as the depth sweep's.
    pub fn steps(self, config: &ReportConfig, point: Option<&GridPoint>) -> usize {
        let iv = &config.interventions;
        match (self, point) {
            (UnitKind::Init, _) => 1,
            (UnitKind::Train | UnitKind::Landscape, _) => config.train.steps,
            (UnitKind::Batch, Some(p)) => {
                (iv.batch_budget * config.train.batch_size).div_ceil(p.batch_size.max(1))
            }
            (UnitKind::Rank, _) => iv.rank.steps,
            (UnitKind::Lr | UnitKind::Depth | UnitKind::Batch, _) => iv.steps,
        }
    }

    /// The grid points of a sweep, in plan order (none for the battery's kinds).
    pub fn grid(self, config: &ReportConfig) -> Vec<GridPoint> {
        let iv = &config.interventions;
        let (depth, batch) = (config.network.blocks, config.train.batch_size);
        let at = |depth, lr, batch_size| GridPoint {
            depth,
            lr,
            batch_size,
        };
        match self {
            UnitKind::Init | UnitKind::Train => vec![],
            UnitKind::Lr => iv
                .learning_rates
                .iter()
                .map(|&lr| at(depth, lr, batch))
                .collect(),
            UnitKind::Depth => iv
                .depths
                .iter()
                .flat_map(|&d| {
                    iv.depth_learning_rates
                        .iter()
                        .map(move |&lr| at(d, lr, batch))
                })
                .collect(),
            UnitKind::Batch => {
                let deepest = iv.depths.last().copied().unwrap_or(depth);
                iv.batch_sizes
                    .iter()
                    .filter(|&&b| b != batch)
                    .flat_map(|&b| {
                        iv.depth_learning_rates
                            .iter()
                            .map(move |&lr| at(deepest, lr, b))
                    })
                    .collect()
            }
            UnitKind::Rank => iv
                .rank
                .depths
                .iter()
                .flat_map(|&d| {
                    iv.rank
                        .learning_rates
                        .iter()
                        .map(move |&lr| at(d, lr, batch))
                })
                .collect(),
            UnitKind::Landscape => config
                .landscape
                .depths
                .iter()
                .map(|&d| at(d, config.train.lr, batch))
                .collect(),
        }
    }

    /// A grid point as written in a unit's id: `0.1` (learning-rate sweep), `16_0.1`
    /// (depth and rank sweeps: depth, rate), `128_0.1` (batch sweep: batch size, rate), `16`
    /// (landscape: depth).
    pub fn point_id(self, p: &GridPoint) -> String {
        match self {
            UnitKind::Init | UnitKind::Train => String::new(),
            UnitKind::Lr => p.lr.to_string(),
            UnitKind::Depth | UnitKind::Rank => format!("{}_{}", p.depth, p.lr),
            UnitKind::Batch => format!("{}_{}", p.batch_size, p.lr),
            UnitKind::Landscape => p.depth.to_string(),
        }
    }

    /// Seeds per arm (and grid point).
    pub fn seeds(self, config: &ReportConfig) -> usize {
        match self {
            UnitKind::Init | UnitKind::Train => config.seeds,
            UnitKind::Lr | UnitKind::Depth | UnitKind::Batch | UnitKind::Rank => {
                config.interventions.seeds
            }
            UnitKind::Landscape => config.landscape.seeds,
        }
    }
}

/// One unit of a plan: a kind, a normalizer (by label), for a sweep the grid point, and a
/// seed. Its [`id`](UnitId::id), `<kind>-<label slug>-<seed>` (`<kind>-<label slug>-<point>-<seed>`
/// in a sweep), names its file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitId {
    /// What it measures.
    pub kind: UnitKind,
    /// The normalizer's label in the configuration.
    pub label: String,
    /// A sweep's grid point.
    pub point: Option<GridPoint>,
    /// The seed.
    pub seed: u64,
}

impl UnitId {
    /// `train-batchnorm-3`, `lr-none-0.5-0`, `depth-skipinit-16_0.1-1`.
    pub fn id(&self) -> String {
        match &self.point {
            Some(point) => format!(
                "{}-{}-{}-{}",
                self.kind.name(),
                slug(&self.label),
                self.kind.point_id(point),
                self.seed
            ),
            None => format!("{}-{}-{}", self.kind.name(), slug(&self.label), self.seed),
        }
    }

    /// `out/units/<id>.toml`.
    pub fn path(&self, out: &Path) -> PathBuf {
        out.join("units").join(format!("{}.toml", self.id()))
    }

    /// The progress group it is counted in (one bar per group).
    pub fn group(&self) -> String {
        match self.kind {
            UnitKind::Init => "at initialization".to_string(),
            UnitKind::Train => format!("training {}", self.label),
            UnitKind::Lr => "learning-rate sweep".to_string(),
            UnitKind::Depth => "depth sweep".to_string(),
            UnitKind::Batch => "batch-size sweep".to_string(),
            UnitKind::Rank => "plain-network sweep".to_string(),
            UnitKind::Landscape => "loss landscape".to_string(),
        }
    }

    /// Training steps of this unit.
    pub fn steps(&self, config: &ReportConfig) -> usize {
        self.kind.steps(config, self.point.as_ref())
    }

    /// Its arm in `config`.
    pub fn entry<'a>(&self, config: &'a ReportConfig) -> Option<&'a Entry> {
        self.kind
            .entries(config)
            .iter()
            .find(|e| e.label == self.label)
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_planned() {
        for kind in UnitKind::ALL {
            // A new kind fails to compile here until it is named, and then this test until it
            // is in ALL.
            let position = match kind {
                UnitKind::Init => 0,
                UnitKind::Train => 1,
                UnitKind::Lr => 2,
                UnitKind::Depth => 3,
                UnitKind::Batch => 4,
                UnitKind::Rank => 5,
                UnitKind::Landscape => 6,
            };
            assert_eq!(UnitKind::ALL[position], kind);
        }
        assert_eq!(UnitKind::ALL.len(), 7);
        let config = ReportConfig::default();
        let plan = plan::plan(&config);
        for kind in UnitKind::ALL {
            assert!(plan.iter().any(|u| u.kind == kind), "{kind:?} has no unit");
        }
    }
}
