//! normscope-wgpu
