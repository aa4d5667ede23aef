//! normscope-analysis
