//! normscope-tch
