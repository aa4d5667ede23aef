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
    /// One run of the depth sweep ([`measure::SweepUnit`]).
    Depth,
}

impl UnitKind {
    /// Every kind, in the order of a plan.
    pub const ALL: [UnitKind; 4] = [
        UnitKind::Init,
        UnitKind::Train,
        UnitKind::Lr,
        UnitKind::Depth,
    ];

    /// `init`, `train`, `lr` or `depth`, as in the unit's id.
    pub fn name(self) -> &'static str {
        match self {
            UnitKind::Init => "init",
            UnitKind::Train => "train",
            UnitKind::Lr => "lr",
            UnitKind::Depth => "depth",
        }
    }

    /// The arms units of this kind are drawn from.
    pub fn entries(self, config: &ReportConfig) -> &[Entry] {
        match self {
            UnitKind::Init | UnitKind::Train => &config.normalizers,
            UnitKind::Lr => &config.interventions.lr_normalizers,
            UnitKind::Depth => &config.interventions.depth_normalizers,
        }
    }

    /// Training steps of one unit (1 for the at-initialization measurements).
    pub fn steps(self, config: &ReportConfig) -> usize {
        match self {
            UnitKind::Init => 1,
            UnitKind::Train => config.train.steps,
            UnitKind::Lr | UnitKind::Depth => config.interventions.steps,
        }
    }

    /// The grid points of a sweep, as written in unit ids (none for the battery's kinds).
    pub fn points(self, config: &ReportConfig) -> Vec<String> {
        let iv = &config.interventions;
        match self {
            UnitKind::Init | UnitKind::Train => vec![],
            UnitKind::Lr => iv.learning_rates.iter().map(|lr| lr.to_string()).collect(),
            UnitKind::Depth => iv.depths.iter().map(|d| d.to_string()).collect(),
        }
    }

    /// Seeds per arm (and grid point).
    pub fn seeds(self, config: &ReportConfig) -> usize {
        match self {
            UnitKind::Init | UnitKind::Train => config.seeds,
            UnitKind::Lr | UnitKind::Depth => config.interventions.seeds,
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
    /// A sweep's grid point, as written in the id (the learning rate, the blocks per stage).
    pub point: Option<String>,
    /// The seed.
    pub seed: u64,
}

impl UnitId {
    /// `train-batchnorm-3`, `lr-none-0.5-0`, `depth-skipinit-16-1`.
    pub fn id(&self) -> String {
        match &self.point {
            Some(point) => format!(
                "{}-{}-{point}-{}",
                self.kind.name(),
                slug(&self.label),
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
        }
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
