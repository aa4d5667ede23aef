//! A model's trainable parameters as one flat f64 vector on the host: what the landscape,
//! covariate-shift and Hessian metrics move along and differentiate. With its buffers (the
//! running statistics) too, it is PyTorch's `state_dict` flattened: what Li et al.'s
//! `--dir_type states` interpolates ([`ParamLayout::with_buffers`]).

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
    /// Its module path, dotted, enum variants left out (`blocks.3.conv1.weight`,
    /// `layers.0.norm.running_mean`).
    pub path: String,
    /// A buffer (a running statistic), not a trainable parameter.
    pub buffer: bool,
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

    /// The module this parameter belongs to at the granularity of the zoo's building blocks:
    /// its path up to the first list index (`blocks.3`, `layers.0`), or its first component
    /// outside lists (`stem`, `head`, `final_norm`).
    pub fn block(&self) -> &str {
        let parts: Vec<&str> = self.path.split('.').collect();
        let keep = parts
            .iter()
            .position(|p| p.parse::<usize>().is_ok())
            .map_or(1, |i| i + 1);
        let len = parts[..keep].iter().map(|p| p.len()).sum::<usize>() + keep - 1;
        &self.path[..len]
    }
}

/// The trainable parameters of a model in visiting (= forward) order, and with
/// [`ParamLayout::with_buffers`] its buffers (running statistics) in their places among them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamLayout {
    /// The parameters in order.
    pub slots: Vec<ParamSlot>,
    /// Whether the buffers are in the layout.
    buffers: bool,
}

struct Collect {
    slots: Vec<ParamSlot>,
    values: Vec<f64>,
    with_values: bool,
    buffers: bool,
    path: Vec<String>,
}

impl Collect {
    fn new(with_values: bool, buffers: bool) -> Collect {
        Collect {
            slots: vec![],
            values: vec![],
            with_values,
            buffers,
            path: vec![],
        }
    }
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        // Enum variants (`Network::ResNet`, `Norm::BatchNorm`) are not part of the path.
        if !container_type.starts_with("Enum:") {
            self.path.push(name.to_string());
        }
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.path.pop();
        }
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let buffer = !tensor.is_require_grad();
        if buffer && !self.buffers {
            return; // a buffer (running statistics), not a trainable parameter
        }
        // `num_batches_tracked` counts steps: not a statistic of the data, and no input of the
        // forward pass at an exponential momentum. Interpolating a counter means nothing, so the
        // state is the running statistics (what Li et al.'s `states` directions move).
        if buffer && self.path.last().is_some_and(|p| p == "num_batches_tracked") {
            return;
        }
        let offset = self.slots.last().map(|s| s.offset + s.len()).unwrap_or(0);
        self.slots.push(ParamSlot {
            id: param.id,
            shape: tensor.dims().to_vec(),
            offset,
            path: self.path.join("."),
            buffer,
        });
        if self.with_values {
            self.values.extend(tensor.into_data().iter::<f64>());
        }
    }
}

impl ParamLayout {
    /// A layout of trainable parameters only, from its slots (for tests and for models that
    /// are not burn modules, e.g. a quadratic).
    pub fn from_slots(slots: Vec<ParamSlot>) -> ParamLayout {
        ParamLayout {
            slots,
            buffers: false,
        }
    }

    /// The layout of `model`'s trainable parameters (on an autodiff device, where trainable
    /// parameters require grad).
    pub fn of<M: Module>(model: &M) -> ParamLayout {
        let mut c = Collect::new(false, false);
        model.visit(&mut c);
        ParamLayout {
            slots: c.slots,
            buffers: false,
        }
    }

    /// The layout of every float tensor of `model`: its trainable parameters and its buffers
    /// (BatchNorm's `running_mean`, `running_var`), in visiting order — PyTorch's `state_dict`.
    /// Built on an autodiff device, where [`ParamSlot::buffer`] tells them apart.
    pub fn with_buffers<M: Module>(model: &M) -> ParamLayout {
        let mut c = Collect::new(false, true);
        model.visit(&mut c);
        ParamLayout {
            slots: c.slots,
            buffers: true,
        }
    }

    /// The slots of each building block ([`ParamSlot::block`]), in order: `(block, slots)`.
    pub fn blocks(&self) -> Vec<(String, Vec<&ParamSlot>)> {
        let mut blocks: Vec<(String, Vec<&ParamSlot>)> = vec![];
        for slot in &self.slots {
            match blocks.last_mut() {
                Some((name, slots)) if name == slot.block() => slots.push(slot),
                _ => blocks.push((slot.block().to_string(), vec![slot])),
            }
        }
        blocks
    }

    /// Total number of values.
    pub fn len(&self) -> usize {
        self.slots.last().map(|s| s.offset + s.len()).unwrap_or(0)
    }

    /// `true` without parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The model's parameter values (and buffers, in a [`ParamLayout::with_buffers`] layout),
    /// flat. With buffers, `model` may live on any device; without, on an autodiff device.
    pub fn values<M: Module>(&self, model: &M) -> Vec<f64> {
        let mut c = Collect::new(true, self.buffers);
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
