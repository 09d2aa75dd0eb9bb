//! Compiles the `elevator.v1` protos with the vendored `protoc`, so a fresh machine needs no
//! system protobuf compiler, and keeps the descriptor set for server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = [
        "proto/elevator/v1/types.proto",
        "proto/elevator/v1/elevation_service.proto",
        "proto/elevator/v1/approval_service.proto",
        "proto/elevator/v1/audit_service.proto",
        "proto/elevator/v1/check_service.proto",
        "proto/elevator/v1/policy_service.proto",
        "proto/elevator/v1/directory_service.proto",
        "proto/elevator/v1/break_glass_service.proto",
        "proto/elevator/v1/review_service.proto",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("elevator_descriptor.bin"))
        .compile_with_config(config, &protos, &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
