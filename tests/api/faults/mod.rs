//! The fault and attack suite (issue 10): each submodule drives one kind of fault or attack
//! against real servers and checks its pass criterion, printing the figures it measured
//! (`cargo test --test api faults -- --nocapture` shows them).
//!
//! The long versions (10,000 iterations, the 10-minute soak) run with `ELEVATOR_LONG_FAULTS=1`
//! (`benches/soak.sh` sets it); without it every test runs a short version that fits the normal
//! `cargo test`. Tests that kill or stall PostgreSQL do it to a cluster of their own
//! ([`OwnedPostgres`]), never to the shared throwaway server.

mod attacks;
mod differential;
mod expiry_under_load;
mod late_notification;
mod listener_loss;
mod memory_curve;
mod new_enemy;
mod postgres_killed;
mod replica_start;
mod soak;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use elevator::decision::CheckQuery;
use elevator::domain::{Grant, SubjectRef};

use crate::harness::{
    connect, free_port, postgres_bin_dir, postgres_user, running_as_root, with_database,
};

/// Whether the long versions run (`ELEVATOR_LONG_FAULTS=1`).
pub(crate) fn long_run() -> bool {
    std::env::var("ELEVATOR_LONG_FAULTS").is_ok_and(|value| value == "1")
}

/// `short` normally, `long` with `ELEVATOR_LONG_FAULTS=1`.
pub(crate) fn scaled(short: usize, long: usize) -> usize {
    if long_run() { long } else { short }
}

/// Fatma's `admin_approver` on `Org:Procurement`, bound to her session `s1`, active at `now`:
/// the grant the in-process tests decide over.
pub(crate) fn fatmas_grant(now: DateTime<Utc>) -> Grant {
    crate::harness::active_grant(
        "fatma",
        "admin_approver",
        "Org:Procurement",
        Some("s1"),
        now,
    )
}

/// May Fatma, in session `s1`, approve purchase order 4711 (what [`fatmas_grant`] allows)?
pub(crate) fn fatmas_question() -> CheckQuery<'static> {
    CheckQuery {
        subject: SubjectRef::parse("fatma").expect("a valid subject"),
        session: Some("s1"),
        permission: "purchase_orders.approve",
        resource: "Org:Procurement/PO:4711",
        token: None,
        min_revision: 0,
    }
}

/// A PostgreSQL cluster owned by one test, on its own port and directory, which the test may
/// kill (`pg_ctl stop -m immediate`), stall and restart. Removed when dropped. Unlike the
/// shared server it commits synchronously, so an acknowledged write survives a kill.
pub(crate) struct OwnedPostgres {
    bin: PathBuf,
    base: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres_user: Option<(u32, u32)>,
}

impl OwnedPostgres {
    /// initdb and start a new cluster.
    pub(crate) fn start() -> OwnedPostgres {
        let bin = postgres_bin_dir().expect("PostgreSQL server binaries");
        let as_postgres_user = running_as_root().then(|| postgres_user().expect("a postgres user"));
        let base = std::env::temp_dir().join(format!(
            "elevator-fault-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&base).expect("create the cluster directory");
        if let Some((uid, gid)) = as_postgres_user {
            std::os::unix::fs::chown(&base, Some(uid), Some(gid)).expect("chown the cluster");
        }
        let cluster = OwnedPostgres {
            data: base.join("data"),
            bin,
            base,
            port: free_port(),
            as_postgres_user,
        };
        let initdb = cluster
            .command("initdb")
            .args(["-D", cluster.data.to_str().unwrap(), "-U", "postgres"])
            .args(["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        cluster.start_server();
        cluster
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.as_postgres_user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        command
            .env("LC_ALL", "C")
            .current_dir(&self.base)
            .stdin(Stdio::null());
        command
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub(crate) fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=on \
             -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB",
            self.port,
            self.base.display()
        );
        let started = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D", self.data.to_str().unwrap()])
            .args(["-l", self.base.join("postgres.log").to_str().unwrap()])
            .args(["-o", &options])
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl start");
        assert!(started.success(), "pg_ctl start failed");
    }

    /// `pg_ctl stop -m immediate`: every backend dies at once, nothing is shut down cleanly.
    pub(crate) fn kill(&self) {
        let stopped = self
            .command("pg_ctl")
            .args([
                "stop",
                "-m",
                "immediate",
                "-w",
                "-D",
                self.data.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl stop");
        assert!(stopped.success(), "pg_ctl stop -m immediate failed");
    }

    /// A URL for `database` on this cluster.
    pub(crate) fn url(&self, database: &str) -> String {
        with_database(
            &format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
            database,
        )
    }

    /// A new database on this cluster; its URL.
    pub(crate) async fn fresh_database(&self) -> String {
        let name = format!("elevator_fault_{}", uuid::Uuid::new_v4().simple());
        connect(&self.url("postgres"))
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a database");
        self.url(&name)
    }
}

impl Drop for OwnedPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D", self.data.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Sends `signal` (`STOP`, `CONT`) to a PostgreSQL backend.
pub(crate) fn signal_backend(pid: i32, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// Polls `condition` every 2 ms until it holds; how long that took, or `None` after `limit`.
pub(crate) async fn time_until(
    limit: Duration,
    mut condition: impl FnMut() -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}
