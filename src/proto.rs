//! Code generated from `proto/elevator/v1` by `build.rs`. Only [`crate::api`], the command line
//! and tests use these types; the domain never does.

#![allow(clippy::all, missing_docs)]

/// Package `elevator.v1`.
pub mod v1 {
    tonic::include_proto!("elevator.v1");
}

/// The encoded file descriptor set, served through gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("elevator_descriptor");
