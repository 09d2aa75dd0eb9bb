//! `elevator-loadtest`: a load generator for the decision path, because load testing the
//! decision point is one of the jobs people run elevator for. A client only: it reaches the
//! server through gRPC, as any caller would.
//!
//! It drives `CheckService.Check`, Envoy's ext_authz Check, a mixed read/write workload, the
//! gRPC health check (the stack's floor) or a peer PDP (Cerbos' `CheckResources`), over one or
//! more HTTP/2 connections, in a closed loop (N requests in flight) or an open loop (a fixed
//! rate, latency measured from each request's intended send time so that queueing is not
//! hidden by coordinated omission). The workload is shaped by subjects, grants per subject and
//! the shares of cache misses and denials; `--seed-grants` puts the scenario into the server
//! first. Every answer's status is checked: errors are counted apart, never in latency.
//! `--mode invalidation` measures how long a revocation through one replica takes to deny on
//! another.

mod args;
mod invalidation;
mod pacing;
mod probe;
mod raw;
mod report;
mod run;
mod scenario;
mod tokens;
mod workload;
mod writes;

pub use args::{LoadtestArgs, Mode, Output};
pub use report::{Operations, Percentiles, Report};
pub use run::{measure, run};
