//! Safe wrappers around the ATen calls of `csrc/aten_norm.cpp`.

use std::ffi::{CStr, c_char};

use tch::Tensor;
use torch_sys::C_tensor;

/// ATen threw: the message is ATen's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("ATen: {0}")]
pub struct AtenError(pub String);

unsafe extern "C" {
    fn ns_batch_norm_forward(
        x: *const C_tensor,
        w: *const C_tensor,
        b: *const C_tensor,
        eps: f64,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_batch_norm_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        w: *const C_tensor,
        save_mean: *const C_tensor,
        save_invstd: *const C_tensor,
        eps: f64,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_layer_norm_forward(
        x: *const C_tensor,
        shape: *const i64,
        ndim: i64,
        w: *const C_tensor,
        b: *const C_tensor,
        eps: f64,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_layer_norm_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        shape: *const i64,
        ndim: i64,
        mean: *const C_tensor,
        rstd: *const C_tensor,
        w: *const C_tensor,
        b: *const C_tensor,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_group_norm_forward(
        x: *const C_tensor,
        w: *const C_tensor,
        b: *const C_tensor,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        eps: f64,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_group_norm_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        mean: *const C_tensor,
        rstd: *const C_tensor,
        w: *const C_tensor,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_rms_norm_forward(
        x: *const C_tensor,
        shape: *const i64,
        ndim: i64,
        w: *const C_tensor,
        eps: f64,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn ns_rms_norm_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        shape: *const i64,
        ndim: i64,
        rstd: *const C_tensor,
        w: *const C_tensor,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Runs one wrapper that writes `K` new tensors.
fn call<const K: usize>(
    f: impl FnOnce(*mut *mut C_tensor) -> *mut c_char,
) -> Result<[Tensor; K], AtenError> {
    let mut out = [std::ptr::null_mut::<C_tensor>(); K];
    let error = f(out.as_mut_ptr());
    if !error.is_null() {
        // SAFETY: the wrapper returns a NUL-terminated malloc'd string on failure.
        let message = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        unsafe { libc_free(error.cast()) };
        return Err(AtenError(message));
    }
    // SAFETY: on success every slot holds a `new at::Tensor` that we now own.
    Ok(out.map(|ptr| unsafe { Tensor::from_ptr(ptr) }))
}

unsafe extern "C" {
    #[link_name = "free"]
    fn libc_free(ptr: *mut std::ffi::c_void);
}

fn ptr(t: &Tensor) -> *const C_tensor {
    t.as_ptr()
}

/// Training-mode BatchNorm as PyTorch runs it: `[y, save_mean, save_invstd]`.
pub fn batch_norm_forward(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    eps: f64,
) -> Result<[Tensor; 3], AtenError> {
    call(|out| unsafe { ns_batch_norm_forward(ptr(x), ptr(w), ptr(b), eps, out) })
}

/// BatchNorm's backward from the saved statistics: `[dx, dweight, dbias]`.
pub fn batch_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    w: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    eps: f64,
) -> Result<[Tensor; 3], AtenError> {
    call(|out| unsafe {
        ns_batch_norm_backward(ptr(grad), ptr(x), ptr(w), ptr(mean), ptr(invstd), eps, out)
    })
}

/// `native_layer_norm`: `[y, mean, rstd]`.
pub fn layer_norm_forward(
    x: &Tensor,
    shape: &[i64],
    w: &Tensor,
    b: &Tensor,
    eps: f64,
) -> Result<[Tensor; 3], AtenError> {
    call(|out| unsafe {
        ns_layer_norm_forward(
            ptr(x),
            shape.as_ptr(),
            shape.len() as i64,
            ptr(w),
            ptr(b),
            eps,
            out,
        )
    })
}

/// `native_layer_norm_backward`: `[dx, dweight, dbias]`.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    shape: &[i64],
    mean: &Tensor,
    rstd: &Tensor,
    w: &Tensor,
    b: &Tensor,
) -> Result<[Tensor; 3], AtenError> {
    call(|out| unsafe {
        ns_layer_norm_backward(
            ptr(grad),
            ptr(x),
            shape.as_ptr(),
            shape.len() as i64,
            ptr(mean),
            ptr(rstd),
            ptr(w),
            ptr(b),
            out,
        )
    })
}

/// `native_group_norm`: `[y, mean [N, G], rstd [N, G]]`.
pub fn group_norm_forward(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    nchw: [i64; 3],
    groups: i64,
    eps: f64,
) -> Result<[Tensor; 3], AtenError> {
    let [n, c, hxw] = nchw;
    call(|out| unsafe {
        ns_group_norm_forward(ptr(x), ptr(w), ptr(b), n, c, hxw, groups, eps, out)
    })
}

/// `native_group_norm_backward`: `[dx, dweight, dbias]`.
pub fn group_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
    w: &Tensor,
    nchw: [i64; 3],
    groups: i64,
) -> Result<[Tensor; 3], AtenError> {
    let [n, c, hxw] = nchw;
    call(|out| unsafe {
        ns_group_norm_backward(
            ptr(grad),
            ptr(x),
            ptr(mean),
            ptr(rstd),
            ptr(w),
            n,
            c,
            hxw,
            groups,
            out,
        )
    })
}

/// `_fused_rms_norm`: `[y, rstd]`.
pub fn rms_norm_forward(
    x: &Tensor,
    shape: &[i64],
    w: &Tensor,
    eps: f64,
) -> Result<[Tensor; 2], AtenError> {
    call(|out| unsafe {
        ns_rms_norm_forward(ptr(x), shape.as_ptr(), shape.len() as i64, ptr(w), eps, out)
    })
}

/// `_fused_rms_norm_backward`: `[dx, dweight]`.
pub fn rms_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    shape: &[i64],
    rstd: &Tensor,
    w: &Tensor,
) -> Result<[Tensor; 2], AtenError> {
    call(|out| unsafe {
        ns_rms_norm_backward(
            ptr(grad),
            ptr(x),
            shape.as_ptr(),
            shape.len() as i64,
            ptr(rstd),
            ptr(w),
            out,
        )
    })
}
