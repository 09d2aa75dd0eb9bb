//! Integration tests over real gRPC, against the in-memory store and a real PostgreSQL (one
//! fresh database per test; see [`harness`]). One test binary, one module per concern.

/// The servers under test run in this process on the allocator `elevator` runs on (mimalloc,
/// counted), so the soak's live-heap and resident figures are the server's, not glibc's.
#[global_allocator]
static ALLOCATOR: elevator::telemetry::heap::Counting<mimalloc::MiMalloc> =
    elevator::telemetry::heap::Counting(mimalloc::MiMalloc);

mod harness;
mod http;
mod tools;

mod audit;
mod authzen;
mod checks;
mod concurrency;
mod console;
mod delegation;
mod delegation_sessions;
mod delegation_standing;
mod directory;
mod edge_input;
mod edge_sizes;
mod envoy;
mod expiry;
mod fatma;
mod faults;
mod helm_chart;
mod helm_render;
mod invisible_characters;
mod jwks;
mod limits;
mod loadtest;
mod logs;
mod operability;
mod policy_fuzz;
mod privileges;
mod python;
mod repeated_votes;
mod replicas;
mod rules;
mod security;
mod store_contract;
mod store_contract_access_requests;
mod store_contract_directory;
mod tls;
mod webhooks;
mod workflows;
