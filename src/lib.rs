//! elevator: just-in-time role elevation and delegation, served as a gRPC authorization
//! decision point.
//!
//! The crate is one library and two binaries (`elevator` and `elevator-loadtest`).
//! `ARCHITECTURE.md` explains the layers and what may import what; `CODE_STYLE.md` says how the
//! code is written (names, errors, comments, logging, tests, sizes, visibility).
//!
//! Layers only call downwards: the edge (`api`, `admin`, `console`) calls `service`, which
//! calls `decision` and `policy`, which build on `store`, which builds on `domain`. The last
//! column is [`LAYERS`], the table the architecture test (`src/architecture/`) checks every
//! `crate::` and `super::` path in `src/` against; the test also checks that this column says
//! the same as the table.
//!
//! | module      | what lives there | may use |
//! | ----------- | ---------------- | ------- |
//! | [`cli`]     | the `elevator` command line: `serve`, `dev-token` and the client subcommands | `server`, `config`, `api`, `auth`, `policy`, `telemetry`, `clock`, `domain`, `proto` |
//! | [`server`]  | wiring: builds store, policy, caches and services from [`config`], runs them until shutdown | `config`, `admin`, `api`, `http`, `console`, `webhooks`, `service`, `telemetry`, `decision`, `policy`, `store`, `auth`, `tls`, `clock`, `domain`, `proto` |
//! | [`loadtest`]| the `elevator-loadtest` binary (`src/bin/`): load generator for the decision path and its peers; a client only | `auth`, `clock`, `domain`, `proto` |
//! | [`config`]  | layered configuration: defaults, then a file, then `ELEVATOR_*` variables; gathers the settings types of the modules it configures | `api`, `http`, `service`, `telemetry`, `tls`, `domain` |
//! | [`admin`]   | the admin HTTP port: `/metrics`, `/healthz`, `/readyz`, and the console | `console`, `service`, `telemetry`, `auth`, `tls`, `clock`, `domain` |
//! | [`api`]     | tonic services; proto <-> domain conversion at the edge; the one error -> `Status` mapping | `service`, `telemetry`, `auth`, `tls`, `clock`, `domain`, `proto` |
//! | [`http`]    | the PEP-facing HTTP port: AuthZEN 1.0 over HTTP/1.1 and h2; JSON <-> domain at the edge; the one error -> problem document mapping | `service`, `telemetry`, `auth`, `tls`, `clock`, `domain` |
//! | [`console`] | the web console on the admin port: server-rendered pages over the same use cases | `service`, `telemetry`, `auth`, `clock`, `domain` |
//! | [`webhooks`]| delivery of announced changes from the outbox, signed, retried; a background worker beside the use cases | `telemetry`, `store`, `clock`, `domain` |
//! | [`service`] | use cases: request, approve, deny, cancel, revoke, end session, check, policy; audit events | `telemetry`, `decision`, `policy`, `store`, `auth`, `clock`, `domain` |
//! | [`telemetry`]| tracing spans exported through OTLP; metrics rendered as Prometheus text (gauges read the decision cache and log) | `decision`, `store`, `domain` |
//! | [`decision`]| the hot path: cached grants and risk signals + compiled policy -> a decision | `policy`, `store`, `clock`, `domain` |
//! | [`policy`]  | the policy document: parse, validate as a whole, compile | `domain` |
//! | [`store`]   | the storage contract, with in-memory and PostgreSQL implementations and change notification | `domain` |
//! | [`auth`]    | bearer-token verification (HS256 secret, JWKS), the verified-token cache, dev tokens | `tls`, `clock`, `domain` |
//! | [`tls`]     | TLS on both ports, PEPs known by client certificate, certificates reloaded live | `domain` |
//! | [`domain`]  | plain types and pure rules: names, scopes, the elevation state machine, grants; no I/O | (nothing) |
//! | [`clock`]   | the injected clock, so tests move time instead of sleeping | (nothing) |
//! | [`proto`]   | the generated protobuf code; nothing below [`api`] sees it | (nothing) |
//!
//! Edges the table forbids but the code still has are listed, each with its reason, in
//! [`KNOWN_EXCEPTIONS`]; the test fails on any other forbidden edge, and on an exception
//! that no longer occurs, so the list only shrinks.

pub mod admin;
pub mod api;
#[cfg(test)]
mod architecture;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod decision;
pub mod domain;
pub mod http;
pub mod loadtest;
pub mod policy;
pub mod proto;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod webhooks;

/// The module map as data: each top-level module with the top-level modules it may use
/// (through `crate::` or `super::` paths). Ordered from the top (entry points) down; a module
/// may only use modules listed after it, so the table has no cycle. `src/architecture/`
/// checks the code and the module map above against it.
pub const LAYERS: &[(&str, &[&str])] = &[
    (
        "cli",
        &[
            "server",
            "config",
            "api",
            "auth",
            "policy",
            "telemetry",
            "clock",
            "domain",
            "proto",
        ],
    ),
    (
        "server",
        &[
            "config",
            "admin",
            "api",
            "http",
            "console",
            "webhooks",
            "service",
            "telemetry",
            "decision",
            "policy",
            "store",
            "auth",
            "tls",
            "clock",
            "domain",
            "proto",
        ],
    ),
    ("loadtest", &["auth", "clock", "domain", "proto"]),
    (
        "config",
        &["api", "http", "service", "telemetry", "tls", "domain"],
    ),
    (
        "admin",
        &[
            "console",
            "service",
            "telemetry",
            "auth",
            "tls",
            "clock",
            "domain",
        ],
    ),
    (
        "api",
        &[
            "service",
            "telemetry",
            "auth",
            "tls",
            "clock",
            "domain",
            "proto",
        ],
    ),
    (
        "http",
        &["service", "telemetry", "auth", "tls", "clock", "domain"],
    ),
    (
        "console",
        &["service", "telemetry", "auth", "clock", "domain"],
    ),
    ("webhooks", &["telemetry", "store", "clock", "domain"]),
    (
        "service",
        &[
            "telemetry",
            "decision",
            "policy",
            "store",
            "auth",
            "clock",
            "domain",
        ],
    ),
    ("telemetry", &["decision", "store", "domain"]),
    ("decision", &["policy", "store", "clock", "domain"]),
    ("policy", &["domain"]),
    ("store", &["domain"]),
    ("auth", &["tls", "clock", "domain"]),
    ("tls", &["domain"]),
    ("domain", &[]),
    ("clock", &[]),
    ("proto", &[]),
];

/// Edges [`LAYERS`] forbids that the code still has, as (from, to, why it is still there).
/// Each is a debt to pay, not a permission: the architecture test fails when one of these no
/// longer occurs, so that fixing an edge also removes it from here.
pub const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[];
