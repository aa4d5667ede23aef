//! A model's trainable parameters as one flat f64 vector on the host: what the landscape,
//! covariate-shift and Hessian metrics move along and differentiate.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Gradients, Tensor, TensorData};

/// One trainable parameter's place in the flat vector.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSlot {
    /// The parameter's id.
    pub id: ParamId,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its first index in the flat vector.
    pub offset: usize,
}

impl ParamSlot {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// `true` for an empty parameter.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index range in the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }

    /// A weight matrix or convolution kernel (rank ≥ 2): the "layers" of the covariate-shift
    /// metric.
    pub fn is_weight(&self) -> bool {
        self.shape.len() >= 2
    }
}

/// The trainable parameters of a model in visiting (= forward) order. Running statistics and
/// other buffers are left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamLayout {
    /// The parameters in order.
    pub slots: Vec<ParamSlot>,
}

struct Collect {
    slots: Vec<ParamSlot>,
    values: Vec<f64>,
    with_values: bool,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        if !tensor.is_require_grad() {
            return; // a buffer (running statistics), not a trainable parameter
        }
        let offset = self.slots.last().map(|s| s.offset + s.len()).unwrap_or(0);
        self.slots.push(ParamSlot {
            id: param.id,
            shape: tensor.dims().to_vec(),
            offset,
        });
        if self.with_values {
            self.values.extend(tensor.into_data().iter::<f64>());
        }
    }
}

impl ParamLayout {
    /// The layout of `model` (on an autodiff device, where trainable parameters require grad).
    pub fn of<M: Module>(model: &M) -> ParamLayout {
        let mut c = Collect {
            slots: vec![],
            values: vec![],
            with_values: false,
        };
        model.visit(&mut c);
        ParamLayout { slots: c.slots }
    }

    /// Total number of values.
    pub fn len(&self) -> usize {
        self.slots.last().map(|s| s.offset + s.len()).unwrap_or(0)
    }

    /// `true` without parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The model's parameter values, flat.
    pub fn values<M: Module>(&self, model: &M) -> Vec<f64> {
        let mut c = Collect {
            slots: vec![],
            values: vec![],
            with_values: true,
        };
        model.visit(&mut c);
        c.values
    }

    /// The model with its parameters replaced by `values` (require-grad kept).
    pub fn assign<M: Module>(&self, model: M, values: &[f64], device: &Device) -> M {
        assert_eq!(
            values.len(),
            self.len(),
            "a flat parameter vector of the wrong length"
        );
        let mut mapper = Assign {
            layout: self,
            values,
            device,
        };
        model.map(&mut mapper)
    }

    /// The gradient of every trainable parameter, flat (zeros where a parameter got none).
    pub fn gradients<M: Module>(&self, grads: Gradients, model: &M) -> Vec<f64> {
        let mut params = GradientsParams::from_grads(grads, model);
        let mut flat = vec![0.0; self.len()];
        for slot in &self.slots {
            let values: Option<Vec<f64>> = match slot.shape.len() {
                1 => params
                    .remove::<1>(slot.id)
                    .map(|g| g.into_data().iter::<f64>().collect()),
                2 => params
                    .remove::<2>(slot.id)
                    .map(|g| g.into_data().iter::<f64>().collect()),
                3 => params
                    .remove::<3>(slot.id)
                    .map(|g| g.into_data().iter::<f64>().collect()),
                4 => params
                    .remove::<4>(slot.id)
                    .map(|g| g.into_data().iter::<f64>().collect()),
                rank => panic!("a parameter of rank {rank}: the model zoo has ranks 1 to 4"),
            };
            if let Some(values) = values {
                flat[slot.range()].copy_from_slice(&values);
            }
        }
        flat
    }
}

struct Assign<'a> {
    layout: &'a ParamLayout,
    values: &'a [f64],
    device: &'a Device,
}

impl ModuleMapper for Assign<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(slot) = self.layout.slots.iter().find(|s| s.id == param.id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let data: Vec<f32> = self.values[slot.range()]
            .iter()
            .map(|&v| v as f32)
            .collect();
        let mut fresh = Tensor::<D>::from_data(TensorData::new(data, dims), self.device);
        if tensor.is_require_grad() {
            fresh = fresh.require_grad();
        }
        Param::from_mapped_value(id, fresh, mapper)
    }
}
