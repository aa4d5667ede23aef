//! normscope-ndarray
