//! Compiles the TensorBoard schema subset in `proto/` with prost-build. The
//! protoc binary (and the google/protobuf/*.proto files it imports) come from
//! the protoc-bin-vendored crate, so a build needs nothing installed.

const PROTOS: &[&str] = &[
    "proto/tensorboard.proto",
    "proto/text.proto",
    "proto/graph.proto",
    "proto/hparams.proto",
    "proto/plugins.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let well_known = protoc_bin_vendored::include_path()?;
    prost_build::Config::new()
        // BTreeMap rather than HashMap for map fields (hparams, node attrs):
        // the same record then always encodes to the same bytes.
        .btree_map(["."])
        .compile_protos(PROTOS, &[std::path::Path::new("proto/"), &well_known])?;
    Ok(())
}
