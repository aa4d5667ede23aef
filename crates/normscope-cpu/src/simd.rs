//! The instruction set the inner loops run with, chosen at run time: each loop is compiled for
//! baseline x86-64 (SSE2, what the crate builds for) and again for AVX2, and the AVX2 copy runs
//! where the CPU has it (std caches the check). The loops are written with independent
//! accumulators and no reassociation, so both copies compute the same sums in the same order
//! lane for lane; AVX2 only processes twice the lanes per instruction (the kernels run from L1/L2
//! for a group or a row, where the instruction width, not DRAM, is the limit).

/// Whether this CPU runs the AVX2 copies.
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU runs the AVX2 + FMA copies (the convolution's register tiles).
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `xs` as a slice of `U`, when `T` is `U` (a generic kernel taking its f32 path).
#[inline]
pub(crate) fn same<T: 'static, U: 'static>(xs: &[T]) -> Option<&[U]> {
    (core::any::TypeId::of::<T>() == core::any::TypeId::of::<U>()).then(|| {
        // SAFETY: `T` is `U`.
        unsafe { core::slice::from_raw_parts(xs.as_ptr().cast::<U>(), xs.len()) }
    })
}

/// `xs` as a mutable slice of `U`, when `T` is `U`.
#[inline]
pub(crate) fn same_mut<T: 'static, U: 'static>(xs: &mut [T]) -> Option<&mut [U]> {
    (core::any::TypeId::of::<T>() == core::any::TypeId::of::<U>()).then(|| {
        // SAFETY: `T` is `U`.
        unsafe { core::slice::from_raw_parts_mut(xs.as_mut_ptr().cast::<U>(), xs.len()) }
    })
}

/// `xs` as f32, when `T` is f32 (the AVX2 reductions are written for f32).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn f32s<T: crate::Real>(xs: &[T]) -> Option<&[f32]> {
    same(xs)
}

/// Defines a function generic over [`crate::Real`] whose body is also compiled with AVX2 and
/// runs that way where the CPU has it ([`has_avx2`]). The body is an `#[inline(always)]` inner
/// function, so the `#[inline]` helpers it calls are compiled into each copy.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<$T:ident: Real>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$meta])*
        #[inline]
        // The kernels take their slices and their coefficients.
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<$T: Real>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<$T: Real>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<$T: Real>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::simd::has_avx2() {
                    // SAFETY: the CPU runs AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use multiversion;
