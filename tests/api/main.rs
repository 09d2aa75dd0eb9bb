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
mod break_glass;
mod break_glass_cli;
mod break_glass_review;
mod checks;
mod concurrency;
mod console;
mod console_access_request;
mod console_directory;
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
mod oidc;
mod operability;
mod policy_fuzz;
mod privileges;
mod python;
mod python_access_request;
mod readme_access_request;
mod repeated_votes;
mod replicas;
mod reviews;
mod rules;
mod security;
mod store_contract;
mod store_contract_access_requests;
mod store_contract_directory;
mod tls;
mod token_consumers;
mod tokens;
mod webhooks;
mod workflows;
