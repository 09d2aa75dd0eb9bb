//! elevator: just-in-time role elevation and delegation, served as a gRPC authorization
//! decision point.
//!
//! The crate is one library and one binary. Layers only call downwards:
//!
//! | module      | what lives there |
//! | ----------- | ---------------- |
//! | [`cli`]     | the `elevator` command line: `serve`, `dev-token` and the client subcommands |
//! | [`server`]  | wiring: builds store, policy, caches and services from [`config`], runs them until shutdown |
//! | [`api`]     | tonic services; proto <-> domain conversion at the edge; the one error -> `Status` mapping |
//! | [`auth`]    | bearer-token verification (HS256 secret, JWKS), the verified-token cache, dev tokens |
//! | [`service`] | use cases: request, approve, deny, cancel, revoke, end session, check, policy; audit events |
//! | [`decision`]| the hot path: cached grants and risk signals + compiled policy -> a decision |
//! | [`policy`]  | the policy document: parse, validate as a whole, compile |
//! | [`store`]   | the storage contract, with in-memory and PostgreSQL implementations and change notification |
//! | [`domain`]  | plain types and pure rules: names, scopes, the elevation state machine, grants; no I/O |
//! | [`clock`]   | the injected clock, so tests move time instead of sleeping |
//! | [`config`]  | layered configuration: defaults, then a file, then `ELEVATOR_*` variables |
//! | [`webhooks`]| delivery of announced changes from the outbox, signed, retried |
//! | [`telemetry`]| tracing spans exported through OTLP; metrics rendered as Prometheus text |
//! | [`admin`]   | the admin HTTP port: `/metrics`, `/healthz`, `/readyz`, and the console |
//! | [`console`] | the web console on the admin port: server-rendered pages over the same use cases |
//! | [`tls`]     | TLS on both ports, PEPs known by client certificate, certificates reloaded live |
//! | [`loadtest`]| `elevator loadtest`: load generator for the decision path and its peers |
//!
//! The generated protobuf code is in [`proto`]; nothing below [`api`] sees it.

pub mod admin;
pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod decision;
pub mod domain;
pub mod loadtest;
pub mod policy;
pub mod proto;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
