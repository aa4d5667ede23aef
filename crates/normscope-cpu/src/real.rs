//! The float types the kernels run on (f32 and f64, as burn's CPU backends store them).

use core::ops::{Add, Mul, Sub};

/// An f32 or f64 element; statistics are accumulated in f64 whatever the element type.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// Narrows from f64 (rounding).
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}
