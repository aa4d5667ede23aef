//! Errors of the analyses.

use std::path::PathBuf;

use normscope_core::NormError;

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A normalizer was mis-configured or mis-fed.
    #[error(transparent)]
    Norm(#[from] NormError),
    /// A configuration value is out of range.
    #[error("invalid configuration: {key} = {value}: {reason}")]
    Config {
        /// The configuration key.
        key: String,
        /// The value that came.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A data file is missing or malformed.
    #[error("{}: {reason}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A run directory (`--out`) holds something this run cannot use: a unit or a state file
    /// that is truncated, corrupt or another configuration's, a unit outside the plan.
    #[error("{}: {reason}", path.display())]
    Run {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Output could not be written.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// A backend refused a computation (libtorch's autograd, for the exact Hessian-vector
    /// products of `metrics::hessian_tch`).
    #[error("{what}: {reason}")]
    Backend {
        /// What was being computed.
        what: String,
        /// The backend's message.
        reason: String,
    },
    /// Training diverged (a non-finite loss).
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged {
        /// The step.
        step: usize,
        /// The loss.
        loss: f64,
    },
}

impl AnalysisError {
    /// [`AnalysisError::Config`]: `key = value` is refused because of `reason`, e.g.
    /// `AnalysisError::config("data.train", 0, "needs at least 2 images")`.
    pub fn config(
        key: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> AnalysisError {
        AnalysisError::Config {
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

// The checks every configuration's `validate` repeats: each returns `Ok(())` or an
// `AnalysisError::Config` naming the key, the value and the rule. The floating-point checks also
// refuse NaN and ±∞ (a comparison with NaN is false, so a hand-written `v < min` lets it through).

/// `value` is finite and `> 0` (a rate, a scale, a tolerance).
pub(crate) fn positive_finite(key: impl Into<String>, value: f64) -> Result<(), AnalysisError> {
    use std::ops::Bound;
    in_range(key, value, (Bound::Excluded(0.0), Bound::Unbounded))
}

/// `value` is finite and `≥ 0` (a standard deviation, a penalty).
pub(crate) fn non_negative_finite(key: impl Into<String>, value: f64) -> Result<(), AnalysisError> {
    in_range(key, value, 0.0..)
}

/// `value ≥ min` for a count (integers only: for floats, [`in_range`] also refuses NaN).
pub(crate) fn at_least<T: Ord + std::fmt::Display>(
    key: impl Into<String>,
    value: T,
    min: T,
) -> Result<(), AnalysisError> {
    if value >= min {
        Ok(())
    } else {
        Err(AnalysisError::config(
            key,
            &value,
            format!("must be at least {min}"),
        ))
    }
}

/// `value ≤ max` for a count: a size that cannot be planned or built in memory is refused
/// before the work, not after it hangs.
pub(crate) fn at_most<T: Ord + std::fmt::Display>(
    key: impl Into<String>,
    value: T,
    max: T,
) -> Result<(), AnalysisError> {
    if value <= max {
        Ok(())
    } else {
        Err(AnalysisError::config(
            key,
            &value,
            format!("must be at most {max}"),
        ))
    }
}

/// `value` is finite and lies in `range` (`0.0..1.0`, `1.0..`, `..=10.0`; `..` checks only that
/// it is finite); the reason states the rule: `must be in [0, 1)`, `must be finite and >= 1`,
/// `must be finite`. The value is written short (`1e308`, `NaN`, `-0.5`).
pub(crate) fn in_range(
    key: impl Into<String>,
    value: f64,
    range: impl std::ops::RangeBounds<f64>,
) -> Result<(), AnalysisError> {
    use std::ops::Bound;
    if value.is_finite() && range.contains(&value) {
        return Ok(());
    }
    let reason = match (range.start_bound(), range.end_bound()) {
        (Bound::Unbounded, Bound::Unbounded) => "must be finite".to_string(),
        (low, Bound::Unbounded) => match low {
            Bound::Included(v) => format!("must be finite and >= {v}"),
            _ => format!("must be finite and > {}", bound_value(low)),
        },
        (Bound::Unbounded, high) => match high {
            Bound::Included(v) => format!("must be finite and <= {v}"),
            _ => format!("must be finite and < {}", bound_value(high)),
        },
        (low, high) => format!(
            "must be in {}{}, {}{}",
            if matches!(low, Bound::Included(_)) {
                "["
            } else {
                "("
            },
            bound_value(low),
            bound_value(high),
            if matches!(high, Bound::Included(_)) {
                "]"
            } else {
                ")"
            },
        ),
    };
    Err(AnalysisError::config(key, short(value), reason))
}

/// `value` as Rust writes it (`0.5`, `-1`, `NaN`, `inf`), or in scientific notation when that
/// runs long (`1e308` rather than its 309 digits).
pub(crate) fn short(value: f64) -> String {
    let plain = value.to_string();
    if plain.len() > 16 {
        format!("{value:e}")
    } else {
        plain
    }
}

fn bound_value(bound: std::ops::Bound<&f64>) -> f64 {
    match bound {
        std::ops::Bound::Included(v) | std::ops::Bound::Excluded(v) => *v,
        std::ops::Bound::Unbounded => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<(), AnalysisError>) -> (String, String, String) {
        match result {
            Err(AnalysisError::Config { key, value, reason }) => (key, value, reason),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn the_checks_refuse_nan_and_infinities_naming_the_key_the_value_and_the_rule() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(refusal(in_range("a", v, ..)).0, "a");
            assert_eq!(refusal(positive_finite("a", v)).1, v.to_string());
            refusal(non_negative_finite("a", v));
            refusal(in_range("a", v, 0.0..1.0));
            refusal(in_range("a", v, 1.0..));
        }
        assert_eq!(
            refusal(positive_finite("train.lr", 0.0)),
            (
                "train.lr".into(),
                "0".into(),
                "must be finite and > 0".into()
            )
        );
        positive_finite("a", 1e-300).unwrap();
        assert_eq!(refusal(positive_finite("x", -1e-300)).1, "-1e-300");
        in_range("a", -1e300, ..).unwrap();
        non_negative_finite("a", 0.0).unwrap();
        assert_eq!(refusal(non_negative_finite("a", -0.5)).1.as_str(), "-0.5");
        assert_eq!(
            refusal(at_least("data.train", 1usize, 2)),
            ("data.train".into(), "1".into(), "must be at least 2".into())
        );
        at_least("a", 2usize, 2).unwrap();
        assert_eq!(
            refusal(in_range("sgd.momentum", 1.0, 0.0..1.0)).2,
            "must be in [0, 1)"
        );
        assert_eq!(
            refusal(in_range("contrast", 0.5, 1.0..)).2,
            "must be finite and >= 1"
        );
        assert_eq!(
            refusal(in_range("x", 5.0, ..=1.0)).2,
            "must be finite and <= 1"
        );
        assert_eq!(refusal(in_range("x", f64::NAN, ..)).2, "must be finite");
        assert_eq!(refusal(positive_finite("x", -1e308)).1, "-1e308");

        in_range("x", 0.5, 0.0..1.0).unwrap();
        in_range("x", 1.0, 0.0..=1.0).unwrap();
    }
}
