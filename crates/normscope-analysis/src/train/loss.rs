//! Classification loss.

use burn::tensor::{Int, Tensor};

/// Mean cross-entropy of `logits` `[N, K]` against integer `labels` `[N]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let classes = logits.dims()[1];
    let targets = labels.one_hot::<2>(classes).float();
    burn::tensor::loss::cross_entropy_with_logits(logits, targets)
}

/// Fraction of rows whose arg-max equals the label.
pub fn accuracy(logits: Tensor<2>, labels: Tensor<1, Int>) -> f64 {
    let n = labels.dims()[0];
    let predicted = logits.argmax(1).reshape([n]);
    let correct = predicted.equal(labels).int().sum().into_scalar::<i64>() as f64;
    correct / n as f64
}
