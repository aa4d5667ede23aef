//! BatchNorm, LayerNorm, GroupNorm, InstanceNorm and RMSNorm against PyTorch itself (libtorch
//! CPU through tch): same inputs, same outputs and running statistics within 1e-5, on every
//! backend this build has. Where the reference is a `torch.nn` module or a Python function
//! (`BatchNorm2d(momentum=None)`, a BatchNorm in `eval()` inside a model in `train()`,
//! `torch.nn.utils.fusion.fuse_conv_bn_weights`), the test runs it in the Python that tch was
//! built against (`python3` on `PATH`, as torch-sys finds it), data passed as JSON.
#![cfg(feature = "tch")]
#![allow(deprecated)]

mod common;

use burn::module::Param;
use burn::tensor::Device;
use common::{devices, randn, record_paths, reference::max_abs_diff, tensor, values};
use normscope::{
    BatchNormConfig, GroupNormConfig, InstanceNormConfig, LayerNormConfig, Mode, Normalization,
    RmsNormConfig,
};
use serde_json::{Value, json};
use tch::Tensor as Torch;

const TOL: f64 = 1e-5;

fn torch(data: &[f64], dims: &[usize]) -> Torch {
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    Torch::from_slice(&values).reshape(dims.as_slice())
}

fn torch_values(t: &Torch) -> Vec<f64> {
    let flat = t.flatten(0, -1).to_kind(tch::Kind::Double);
    Vec::<f64>::try_from(&flat).unwrap()
}

fn check(what: &str, device: &str, ours: &[f64], theirs: &[f64]) {
    let diff = max_abs_diff(ours, theirs);
    assert!(
        diff <= TOL,
        "{what} on {device}: max |normscope − torch| = {diff:.2e} > {TOL:.0e}"
    );
}

/// [`check`] relative to the reference's largest magnitude (gradients summed over many terms).
fn check_scaled(what: &str, device: &str, ours: &[f64], theirs: &[f64]) {
    let scale = theirs.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let diff = max_abs_diff(ours, theirs);
    assert!(
        diff <= TOL * scale,
        "{what} on {device}: max |normscope − torch| = {diff:.2e} > {TOL:.0e} · {scale:.2}"
    );
}

fn param(v: &[f64], device: &Device) -> Option<Param<burn::tensor::Tensor<1>>> {
    Some(Param::from_tensor(tensor(v, [v.len()], device)))
}

#[test]
fn batch_norm_matches_torch() {
    let dims = [8, 3, 5, 4];
    let c = 3;
    let gamma = randn(c, 1, 1.0, 0.3);
    let beta = randn(c, 2, 0.0, 0.5);
    for (name, device) in devices() {
        let mut ours = BatchNormConfig::new()
            .with_momentum(0.3)
            .init(c, &device)
            .unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        let running_mean = Torch::zeros([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let running_var = Torch::ones([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let (w, b) = (torch(&gamma, &[c]), torch(&beta, &[c]));
        for step in 0..3 {
            let x = randn(8 * 3 * 20, 10 + step, 1.5, 2.5);
            let theirs = torch(&x, &dims).batch_norm(
                Some(&w),
                Some(&b),
                Some(&running_mean),
                Some(&running_var),
                true,
                0.3,
                1e-5,
                false,
            );
            let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
            check("BatchNorm train output", name, &got, &torch_values(&theirs));
        }
        let rm = values(ours.running_mean.as_ref().unwrap().value_sync());
        let rv = values(ours.running_var.as_ref().unwrap().value_sync());
        check(
            "BatchNorm running_mean",
            name,
            &rm,
            &torch_values(&running_mean),
        );
        check(
            "BatchNorm running_var (unbiased)",
            name,
            &rv,
            &torch_values(&running_var),
        );
        let x = randn(8 * 3 * 20, 99, 1.5, 2.5);
        let theirs = torch(&x, &dims).batch_norm(
            Some(&w),
            Some(&b),
            Some(&running_mean),
            Some(&running_var),
            false,
            0.3,
            1e-5,
            false,
        );
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Eval));
        check("BatchNorm eval output", name, &got, &torch_values(&theirs));
    }
}

#[test]
fn layer_norm_matches_torch() {
    let dims = [6, 4, 3, 5];
    let d = 60;
    let gamma = randn(d, 3, 1.0, 0.3);
    let beta = randn(d, 4, 0.0, 0.5);
    let x = randn(6 * d, 5, -1.0, 3.0);
    let theirs = torch(&x, &dims).layer_norm(
        [4i64, 3, 5].as_slice(),
        Some(&torch(&gamma, &[4, 3, 5])),
        Some(&torch(&beta, &[4, 3, 5])),
        1e-5,
        false,
    );
    for (name, device) in devices() {
        let mut ours = LayerNormConfig::new().init(&dims[1..], &device).unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
        check("LayerNorm output", name, &got, &torch_values(&theirs));
    }
}

#[test]
fn group_norm_matches_torch() {
    let dims = [4, 6, 7];
    let gamma = randn(6, 6, 1.0, 0.3);
    let beta = randn(6, 7, 0.0, 0.5);
    let x = randn(4 * 6 * 7, 8, 2.0, 1.5);
    for groups in [1, 2, 3, 6] {
        let theirs = torch(&x, &dims).group_norm(
            groups as i64,
            Some(&torch(&gamma, &[6])),
            Some(&torch(&beta, &[6])),
            1e-5,
            false,
        );
        for (name, device) in devices() {
            let mut ours = GroupNormConfig::new()
                .with_groups(groups)
                .init(6, &device)
                .unwrap();
            ours.weight = param(&gamma, &device);
            ours.bias = param(&beta, &device);
            let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
            check(
                &format!("GroupNorm({groups}) output"),
                name,
                &got,
                &torch_values(&theirs),
            );
        }
    }
}

#[test]
fn instance_norm_matches_torch() {
    let dims = [5, 3, 4, 4];
    let c = 3;
    let gamma = randn(c, 9, 1.0, 0.3);
    let beta = randn(c, 10, 0.0, 0.5);
    for (name, device) in devices() {
        let mut ours = InstanceNormConfig::new()
            .with_affine(true)
            .with_track_running_stats(true)
            .init(c, &device)
            .unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        let running_mean = Torch::zeros([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let running_var = Torch::ones([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let (w, b) = (torch(&gamma, &[c]), torch(&beta, &[c]));
        for step in 0..3 {
            let x = randn(5 * 3 * 16, 20 + step, -0.5, 2.0);
            let theirs = torch(&x, &dims).instance_norm(
                Some(&w),
                Some(&b),
                Some(&running_mean),
                Some(&running_var),
                true,
                0.1,
                1e-5,
                false,
            );
            let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
            check(
                "InstanceNorm train output",
                name,
                &got,
                &torch_values(&theirs),
            );
        }
        let rm = values(ours.running_mean.as_ref().unwrap().value_sync());
        let rv = values(ours.running_var.as_ref().unwrap().value_sync());
        check(
            "InstanceNorm running_mean",
            name,
            &rm,
            &torch_values(&running_mean),
        );
        check(
            "InstanceNorm running_var",
            name,
            &rv,
            &torch_values(&running_var),
        );
        let x = randn(5 * 3 * 16, 98, -0.5, 2.0);
        let theirs = torch(&x, &dims).instance_norm(
            Some(&w),
            Some(&b),
            Some(&running_mean),
            Some(&running_var),
            false,
            0.1,
            1e-5,
            false,
        );
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Eval));
        check(
            "InstanceNorm eval output",
            name,
            &got,
            &torch_values(&theirs),
        );
    }
}

#[test]
fn rms_norm_matches_torch() {
    let dims = [6, 8, 5];
    let gamma = randn(40, 11, 1.0, 0.3);
    let x = randn(6 * 40, 12, 0.5, 2.0);
    let theirs =
        torch(&x, &dims).rms_norm([8i64, 5].as_slice(), Some(&torch(&gamma, &[8, 5])), None);
    for (name, device) in devices() {
        let mut ours = RmsNormConfig::new().init(&dims[1..], &device).unwrap();
        ours.weight = param(&gamma, &device);
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
        check(
            "RMSNorm output (eps = None)",
            name,
            &got,
            &torch_values(&theirs),
        );
    }
}

/// On libtorch the fused path is ATen's own kernel: bit for bit what `tch::Tensor::batch_norm`,
/// `group_norm` and `layer_norm` give (the composed path would differ in rounding).
#[test]
fn libtorch_fused_path_is_atens_kernel() {
    use normscope::Kernel;
    use normscope::functional::normalize;
    use normscope::ops::NormLayout;
    let device = Device::libtorch();
    let dims = [16, 8, 6, 5];
    let x = randn(16 * 8 * 30, 77, 0.5, 1.5);
    let xt = torch(&x, &dims);
    let one = |n: usize| tensor(&vec![1.0; n], [n], &device);
    let zero = |n: usize| tensor(&vec![0.0; n], [n], &device);
    let (w8, b8) = (
        Torch::ones([8], tch::kind::FLOAT_CPU),
        Torch::zeros([8], tch::kind::FLOAT_CPU),
    );
    let (w240, b240) = (
        Torch::ones([8, 6, 5], tch::kind::FLOAT_CPU),
        Torch::zeros([8, 6, 5], tch::kind::FLOAT_CPU),
    );
    let cases = [
        (
            "batch",
            NormLayout::BATCH,
            8,
            xt.batch_norm(Some(&w8), Some(&b8), None, None, true, 0.1, 1e-5, false),
        ),
        (
            "group(4)",
            NormLayout::group(4),
            8,
            xt.group_norm(4, Some(&w8), Some(&b8), 1e-5, false),
        ),
        (
            "layer",
            NormLayout::LAYER,
            240,
            xt.layer_norm(
                [8i64, 6, 5].as_slice(),
                Some(&w240),
                Some(&b240),
                1e-5,
                false,
            ),
        ),
    ];
    for (name, layout, affine, theirs) in cases {
        let ours = normalize(
            tensor(&x, dims, &device),
            one(affine),
            zero(affine),
            layout,
            1e-5,
            Kernel::Fused,
        );
        let diff = max_abs_diff(&values(ours.output), &torch_values(&theirs));
        assert_eq!(
            diff, 0.0,
            "{name}: the libtorch fused path is not ATen's kernel"
        );
    }
}

/// Runs `script` in the `python3` on `PATH` (the one torch-sys built tch against) with `input`
/// as JSON on stdin, and returns what it prints as JSON.
fn python(script: &str, input: Value) -> Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with torch) on PATH, as for building tch");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// A JSON array of numbers as f64.
fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// `torch.nn.BatchNorm2d(momentum=None)` over four training steps: the same outputs, the
/// cumulative running statistics, `num_batches_tracked = 4`, and the same `state_dict` names
/// in the same order as our record; then eval mode.
#[test]
fn cumulative_momentum_matches_torch_batch_norm_2d_momentum_none() {
    const SCRIPT: &str = r#"
import json, sys, torch
d = json.load(sys.stdin)
bn = torch.nn.BatchNorm2d(d["c"], momentum=None)
T = lambda v: torch.tensor(v, dtype=torch.float32)
with torch.no_grad():
    bn.weight.copy_(T(d["gamma"]))
    bn.bias.copy_(T(d["beta"]))
    bn.train()
    train = [bn(T(x).reshape(d["dims"])).flatten().tolist() for x in d["xs"]]
    bn.eval()
    ev = bn(T(d["x_eval"]).reshape(d["dims"])).flatten().tolist()
state = bn.state_dict()
print(json.dumps({
    "train": train,
    "eval": ev,
    "keys": list(state.keys()),
    "state": {k: v.flatten().double().tolist() for k, v in state.items()},
}))
"#;
    let dims = [6, 3, 4, 5];
    let len = 6 * 3 * 20;
    let c = 3;
    let (gamma, beta) = (randn(c, 31, 1.0, 0.3), randn(c, 32, 0.0, 0.5));
    let xs: Vec<Vec<f64>> = (0..4)
        .map(|k| randn(len, 40 + k, 1.0 + k as f64, 2.0))
        .collect();
    let x_eval = randn(len, 49, 2.0, 2.0);
    let theirs = python(
        SCRIPT,
        json!({"c": c, "dims": dims, "gamma": gamma, "beta": beta, "xs": xs, "x_eval": x_eval}),
    );
    for (name, device) in devices() {
        let mut ours = BatchNormConfig::new()
            .with_momentum(None)
            .init(c, &device)
            .unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        for (step, x) in xs.iter().enumerate() {
            let got = values(ours.forward(tensor(x, dims, &device), Mode::Train));
            check(
                &format!("momentum=None train step {step}"),
                name,
                &got,
                &floats(&theirs["train"][step]),
            );
        }
        let got = values(ours.forward(tensor(&x_eval, dims, &device), Mode::Eval));
        check("momentum=None eval", name, &got, &floats(&theirs["eval"]));
        let keys: Vec<String> = theirs["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(record_paths(&ours), keys, "record names vs state_dict keys");
        let state = |s: &Option<burn::module::RunningState<burn::tensor::Tensor<1>>>| {
            values(s.as_ref().unwrap().value_sync())
        };
        for (key, got) in [
            ("running_mean", state(&ours.running_mean)),
            ("running_var", state(&ours.running_var)),
            ("num_batches_tracked", state(&ours.num_batches_tracked)),
        ] {
            check(key, name, &got, &floats(&theirs["state"][key]));
        }
        assert_eq!(floats(&theirs["state"]["num_batches_tracked"]), [4.0]);
    }
}

/// Fine-tuning with frozen statistics, as PyTorch users do it: a conv → BatchNorm → ReLU →
/// pool → linear model in `train()` with its BatchNorm put in `eval()`. Ours: the BatchNorm
/// frozen with `freeze_statistics`, run in `Mode::Train`. The same logits, the same gradients
/// of the convolution, `γ` and `β`, and running statistics left as they were.
#[test]
fn frozen_statistics_match_a_torch_batch_norm_in_eval_inside_a_training_model() {
    const SCRIPT: &str = r#"
import json, sys, torch
d = json.load(sys.stdin)
T = lambda v: torch.tensor(v, dtype=torch.float32)
cin, c, k = d["cin"], d["c"], d["classes"]
conv = torch.nn.Conv2d(cin, c, 3, padding=1, bias=False)
bn = torch.nn.BatchNorm2d(c)
lin = torch.nn.Linear(c, k)
with torch.no_grad():
    conv.weight.copy_(T(d["conv"]).reshape(c, cin, 3, 3))
    bn.weight.copy_(T(d["gamma"])); bn.bias.copy_(T(d["beta"]))
    bn.running_mean.copy_(T(d["mean"])); bn.running_var.copy_(T(d["var"]))
    lin.weight.copy_(T(d["lin"]).reshape(k, c)); lin.bias.zero_()
model = torch.nn.Sequential(conv, bn, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                            torch.nn.Flatten(), lin)
model.train()
bn.eval()
y = model(T(d["x"]).reshape(d["dims"]))
(y * T(d["w"]).reshape(y.shape)).sum().backward()
print(json.dumps({
    "logits": y.flatten().tolist(),
    "conv_grad": conv.weight.grad.flatten().tolist(),
    "gamma_grad": bn.weight.grad.tolist(),
    "beta_grad": bn.bias.grad.tolist(),
    "mean": bn.running_mean.tolist(),
    "num_batches_tracked": bn.num_batches_tracked.item(),
}))
"#;
    use burn::module::Param;
    use burn::tensor::module::{adaptive_avg_pool2d, conv2d};
    use burn::tensor::ops::ConvOptions;
    let (cin, c, classes, n) = (2, 4, 3, 5);
    let dims = [n, cin, 6, 6];
    let conv = randn(c * cin * 9, 51, 0.0, 0.4);
    let (gamma, beta) = (randn(c, 52, 1.0, 0.3), randn(c, 53, 0.0, 0.5));
    let mean = randn(c, 54, 0.3, 0.5);
    let var: Vec<f64> = randn(c, 55, 0.0, 1.0)
        .iter()
        .map(|v| (0.5 + v * v) as f32 as f64)
        .collect();
    let lin = randn(classes * c, 56, 0.0, 0.5);
    let x = randn(n * cin * 36, 57, 0.5, 1.5);
    let w = randn(n * classes, 58, 0.0, 1.0);
    let theirs = python(
        SCRIPT,
        json!({"cin": cin, "c": c, "classes": classes, "dims": dims, "conv": conv,
               "gamma": gamma, "beta": beta, "mean": mean, "var": var, "lin": lin, "x": x, "w": w}),
    );
    for (name, device) in devices() {
        if !device.is_autodiff() {
            continue;
        }
        let mut bn = BatchNormConfig::new().init(c, &device).unwrap();
        bn.weight = param(&gamma, &device);
        bn.bias = param(&beta, &device);
        bn.running_mean = Some(burn::module::RunningState::new(tensor(&mean, [c], &device)));
        bn.running_var = Some(burn::module::RunningState::new(tensor(&var, [c], &device)));
        let bn = normscope::freeze_statistics(bn);
        let kernel = Param::from_tensor(tensor(&conv, [c, cin, 3, 3], &device));
        // PyTorch's Linear stores [classes, c]; y = h Wᵀ.
        let head = tensor(&lin, [classes, c], &device).transpose();
        let h = conv2d(
            tensor(&x, dims, &device),
            kernel.val(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let h = burn::tensor::activation::relu(bn.forward(h, Mode::Train));
        let h = adaptive_avg_pool2d(h, [1, 1]).reshape([n, c]);
        let logits = h.matmul(head);
        let grads = logits
            .clone()
            .mul(tensor(&w, [n, classes], &device))
            .sum()
            .backward();
        check_scaled(
            "frozen logits",
            name,
            &values(logits),
            &floats(&theirs["logits"]),
        );
        let grad = |p: &Param<burn::tensor::Tensor<1>>| values(p.val().grad(&grads).unwrap());
        check_scaled(
            "frozen ∂L/∂γ",
            name,
            &grad(bn.weight.as_ref().unwrap()),
            &floats(&theirs["gamma_grad"]),
        );
        check_scaled(
            "frozen ∂L/∂β",
            name,
            &grad(bn.bias.as_ref().unwrap()),
            &floats(&theirs["beta_grad"]),
        );
        check_scaled(
            "frozen ∂L/∂W (conv)",
            name,
            &values(kernel.val().grad(&grads).unwrap()),
            &floats(&theirs["conv_grad"]),
        );
        let running = values(bn.running_mean.as_ref().unwrap().value_sync());
        check(
            "frozen running_mean",
            name,
            &running,
            &floats(&theirs["mean"]),
        );
        let count = values(bn.num_batches_tracked.as_ref().unwrap().value_sync());
        assert_eq!(count, [theirs["num_batches_tracked"].as_f64().unwrap()]);
        assert_eq!(count, [0.0]);
    }
}

/// `torch.nn.utils.fusion.fuse_conv_bn_weights` and `fuse_linear_bn_weights` on the same
/// weights and statistics give our folded weights and biases; and torch's own convolution with
/// our folded weights computes torch's convolution followed by its eval-mode BatchNorm.
#[test]
fn folding_matches_torch_fuse_conv_bn_weights() {
    const SCRIPT: &str = r#"
import json, sys, torch
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights
d = json.load(sys.stdin)
T = lambda k: torch.tensor(d[k], dtype=torch.float32)
bn = (T("mean"), T("var"), d["eps"], T("gamma"), T("beta"))
cw, cb = fuse_conv_bn_weights(T("conv_w").reshape(d["conv_dims"]), T("conv_b"), *bn)
lw, lb = fuse_linear_bn_weights(T("lin_w").reshape(d["c"], d["d_in"]), T("lin_b"), *bn)
out = lambda t: t.detach().flatten().tolist()
print(json.dumps({"conv_w": out(cw), "conv_b": out(cb), "lin_w": out(lw), "lin_b": out(lb)}))
"#;
    let (c, cin, d_in) = (4, 3, 5);
    let conv_dims = [c, cin, 3, 3];
    let conv_w = randn(c * cin * 9, 61, 0.0, 0.4);
    let conv_b = randn(c, 62, 0.0, 0.3);
    let lin_w = randn(c * d_in, 63, 0.0, 0.4); // PyTorch's [c, d_in]
    let lin_b = randn(c, 64, 0.0, 0.3);
    let (gamma, beta) = (randn(c, 65, 1.0, 0.3), randn(c, 66, 0.0, 0.5));
    let mean = randn(c, 67, 0.3, 0.5);
    let var: Vec<f64> = randn(c, 68, 0.0, 1.0)
        .iter()
        .map(|v| (0.5 + v * v) as f32 as f64)
        .collect();
    let eps = 1e-3;
    let theirs = python(
        SCRIPT,
        json!({"c": c, "d_in": d_in, "conv_dims": conv_dims, "conv_w": conv_w, "conv_b": conv_b,
               "lin_w": lin_w, "lin_b": lin_b, "gamma": gamma, "beta": beta, "mean": mean,
               "var": var, "eps": eps}),
    );
    // Our linear layout is [d_in, c]: the transpose of PyTorch's.
    let lin_t: Vec<f64> = (0..d_in * c)
        .map(|i| lin_w[(i % c) * d_in + i / c])
        .collect();
    for (name, device) in devices() {
        let v = |data: &[f64]| tensor(data, [data.len()], &device);
        let stats = || (v(&mean), v(&var), Some(v(&gamma)), Some(v(&beta)));
        let (m, s, g, b) = stats();
        let (w2, b2) = normscope::fuse_conv_bn_weights(
            tensor(&conv_w, conv_dims, &device),
            Some(v(&conv_b)),
            m,
            s,
            eps,
            g,
            b,
        )
        .unwrap();
        check(
            "folded conv weight",
            name,
            &values(w2.clone()),
            &floats(&theirs["conv_w"]),
        );
        check(
            "folded conv bias",
            name,
            &values(b2.clone()),
            &floats(&theirs["conv_b"]),
        );
        let (m, s, g, b) = stats();
        let (lw, lb) = normscope::fuse_linear_bn_weights(
            tensor(&lin_t, [d_in, c], &device),
            Some(v(&lin_b)),
            m,
            s,
            eps,
            g,
            b,
        )
        .unwrap();
        check(
            "folded linear weight (transposed)",
            name,
            &values(lw.transpose()),
            &floats(&theirs["lin_w"]),
        );
        check(
            "folded linear bias",
            name,
            &values(lb),
            &floats(&theirs["lin_b"]),
        );
        if name == "ndarray" {
            // torch's own layers: conv + eval BatchNorm vs one conv with our folded weights.
            let x = torch(&randn(2 * cin * 25, 69, 1.0, 1.0), &[2, cin, 5, 5]);
            let t = |data: &[f64]| torch(data, &[data.len()]);
            let unfused = x
                .conv2d(
                    &torch(&conv_w, &conv_dims),
                    Some(&t(&conv_b)),
                    [1, 1],
                    [1, 1],
                    [1, 1],
                    1,
                )
                .batch_norm(
                    Some(&t(&gamma)),
                    Some(&t(&beta)),
                    Some(&t(&mean)),
                    Some(&t(&var)),
                    false,
                    0.1,
                    eps,
                    false,
                );
            let folded = x.conv2d(
                &torch(&values(w2), &conv_dims),
                Some(&t(&values(b2))),
                [1, 1],
                [1, 1],
                [1, 1],
                1,
            );
            check(
                "torch conv with folded weights",
                name,
                &torch_values(&folded),
                &torch_values(&unfused),
            );
        }
    }
}
