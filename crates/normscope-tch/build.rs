//! With feature `tch`: compile the ATen wrappers (`csrc/aten_norm.cpp`) against the torch that
//! torch-sys found, and put torch's `lib/` in the rpath of this package's tests.
fn main() {
    println!("cargo:rerun-if-changed=csrc/aten_norm.cpp");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return; // built without the `tch` feature: nothing to do
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    let torch = std::path::Path::new(&lib)
        .parent()
        .expect("torch's lib/ has a parent")
        .to_path_buf();
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .file("csrc/aten_norm.cpp")
        .include(torch.join("include"))
        .include(torch.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(false)
        .compile("normscope_aten");
}
