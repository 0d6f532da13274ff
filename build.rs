//! Compiles `proto/tensorboard.proto` with prost-build. The protoc binary comes
//! from the protoc-bin-vendored crate, so a build needs nothing installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/tensorboard.proto");
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    prost_build::compile_protos(&["proto/tensorboard.proto"], &["proto/"])?;
    Ok(())
}
