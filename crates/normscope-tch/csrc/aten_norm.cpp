// ATen's fused normalization kernels, forward and backward, for normscope-tch.
//
// tch 0.22 binds the forwards (native_batch_norm, native_layer_norm, native_group_norm, ...) but
// not their backwards. These wrappers call ATen directly on the `torch::Tensor*` handles that tch
// uses (`tch::Tensor::as_ptr`), one ATen call each way, and hand back new handles that tch owns
// (`tch::Tensor::from_ptr`). Every function returns nullptr on success, or a malloc'd message
// (freed by the caller) when ATen throws.
#include <ATen/ATen.h>
#include <cstdlib>
#include <cstring>
#include <vector>

typedef at::Tensor *tensor;

namespace {
char *error_message(const std::exception &e) {
  const char *what = e.what();
  char *copy = static_cast<char *>(std::malloc(std::strlen(what) + 1));
  std::strcpy(copy, what);
  return copy;
}

tensor wrap(const at::Tensor &t) { return new at::Tensor(t); }

std::optional<at::Tensor> optional(tensor t) {
  if (t == nullptr) return std::nullopt;
  return *t;
}

std::vector<int64_t> dims(const int64_t *values, int64_t len) {
  return std::vector<int64_t>(values, values + len);
}
}  // namespace

#define NS_PROTECT(...)               \
  try {                               \
    __VA_ARGS__;                      \
    return nullptr;                   \
  } catch (const std::exception &e) { \
    return error_message(e);          \
  }

extern "C" {

// Training-mode batch norm as PyTorch runs it (`_batch_norm_with_update`: cuDNN on CUDA when
// PyTorch would pick it, ATen's native kernels elsewhere). out: [y, save_mean, save_invstd].
char *ns_batch_norm_forward(tensor x, tensor weight, tensor bias, double eps, tensor *out) {
  NS_PROTECT({
    int64_t channels = x->size(1);
    auto running_mean = at::zeros({channels}, x->options());
    auto running_var = at::ones({channels}, x->options());
    auto result = at::_batch_norm_with_update(*x, optional(weight), optional(bias), running_mean,
                                              running_var, 0.0, eps);
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
    out[2] = wrap(std::get<2>(result));
  })
}

// The matching backward (`batch_norm_backward`, which dispatches like the forward); if that
// backend needs a reserve space we did not keep, ATen's native backward (same saved statistics:
// mean and inverse std). out: [dx, dweight, dbias].
char *ns_batch_norm_backward(tensor grad, tensor x, tensor weight, tensor save_mean,
                             tensor save_invstd, double eps, tensor *out) {
  NS_PROTECT({
    std::tuple<at::Tensor, at::Tensor, at::Tensor> result;
    try {
      auto reserve = at::empty({0}, x->options().dtype(at::kByte));
      result = at::batch_norm_backward(*grad, *x, *weight, std::nullopt, std::nullopt, *save_mean,
                                       *save_invstd, true, eps, {true, true, true}, reserve);
    } catch (const std::exception &) {
      result = at::native_batch_norm_backward(*grad, *x, *weight, std::nullopt, std::nullopt,
                                              *save_mean, *save_invstd, true, eps,
                                              {true, true, true});
    }
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
    out[2] = wrap(std::get<2>(result));
  })
}

// out: [y, mean, rstd] (mean and rstd shaped [N, 1, ...]).
char *ns_layer_norm_forward(tensor x, const int64_t *shape, int64_t ndim, tensor weight,
                            tensor bias, double eps, tensor *out) {
  NS_PROTECT({
    auto result = at::native_layer_norm(*x, dims(shape, ndim), optional(weight), optional(bias), eps);
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
    out[2] = wrap(std::get<2>(result));
  })
}

char *ns_layer_norm_backward(tensor grad, tensor x, const int64_t *shape, int64_t ndim,
                             tensor mean, tensor rstd, tensor weight, tensor bias, tensor *out) {
  NS_PROTECT({
    auto result = at::native_layer_norm_backward(*grad, *x, dims(shape, ndim), *mean, *rstd,
                                                 optional(weight), optional(bias),
                                                 {true, true, true});
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
    out[2] = wrap(std::get<2>(result));
  })
}

// out: [y, mean [N, G], rstd [N, G]].
char *ns_group_norm_forward(tensor x, tensor weight, tensor bias, int64_t n, int64_t c,
                            int64_t hxw, int64_t groups, double eps, tensor *out) {
  NS_PROTECT({
    auto result = at::native_group_norm(*x, optional(weight), optional(bias), n, c, hxw, groups, eps);
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
    out[2] = wrap(std::get<2>(result));
  })
}

char *ns_group_norm_backward(tensor grad, tensor x, tensor mean, tensor rstd, tensor weight,
                             int64_t n, int64_t c, int64_t hxw, int64_t groups, tensor *out) {
  NS_PROTECT({
    auto result = at::native_group_norm_backward(*grad, *x, *mean, *rstd, optional(weight), n, c,
                                                 hxw, groups, {true, true, true});
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
    out[2] = wrap(std::get<2>(result));
  })
}

// out: [y, rstd].
char *ns_rms_norm_forward(tensor x, const int64_t *shape, int64_t ndim, tensor weight,
                          double eps, tensor *out) {
  NS_PROTECT({
    auto result = at::_fused_rms_norm(*x, dims(shape, ndim), optional(weight), eps);
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
  })
}

// out: [dx, dweight].
char *ns_rms_norm_backward(tensor grad, tensor x, const int64_t *shape, int64_t ndim, tensor rstd,
                           tensor weight, tensor *out) {
  NS_PROTECT({
    auto result = at::_fused_rms_norm_backward(*grad, *x, dims(shape, ndim), *rstd,
                                               optional(weight), {true, true});
    out[0] = wrap(std::get<0>(result));
    out[1] = wrap(std::get<1>(result));
  })
}

}  // extern "C"
