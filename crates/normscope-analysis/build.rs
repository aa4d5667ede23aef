//! With feature `tch`, put torch's `lib/` in the rpath of this package's tests, examples and
//! benchmarks (torch-sys passes it to direct dependents as `DEP_TCH_LIBTORCH_LIB`).
fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
