//! AuthZEN in process (issue 14, part 6): a resource search over 100,000 directory entities,
//! timed search by search for its percentiles (target: p99 under 50 ms), and the cost of one
//! permission condition run natively beside the same condition left to the CEL interpreter.
//!
//!     cargo bench --bench authzen_search                  # SEARCHES=200 by default
//!
//! The directory: 100,000 purchase orders (`po`), order `j` placed at `Org:Dept{j % 100}/PO:{j}`
//! with an `ownerID` property. `fatma` holds `po_reader` grants on 10 departments (a tenth of
//! the orders) and the `owner` role, whose `purchase_orders.update` carries a condition. The
//! searches, each from the first page with the largest page (1,000 results):
//!   - `read, 10 departments`: the page fills after ~10,000 candidates;
//!   - `read, 1 department`: a subject with one grant, 1,000 results: every candidate decided;
//!   - `update, owner condition`: every candidate decided through the condition
//!     `resource.properties.ownerID == subject.properties.email` (fatma owns every 100th);
//!   - `nothing held`: a subject holding no role that carries the permission.
//!
//! `authzen/directory_one_put/100000`: the next snapshot a replica builds when the change feed
//! names one written entity (`Directory::with_changes`, what each directory write costs every
//! replica besides reading the row).
//!
//! Results and the machine are in BENCHMARKS.md (AuthZEN section).

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use elevator::clock::ManualClock;
use elevator::decision::{Decider, SearchWindow};
use elevator::domain::{
    AccessAction, AccessEntity, AccessQuery, CheckQuery, Directory, Entity, EntityId, EntityKey,
    EntityType, Grant, Properties, RoleName, Scope, StandingRole, SubjectRef, Value,
};
use elevator::policy::Policy;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORDERS: usize = 100_000;
const DEPARTMENTS: usize = 100;

/// The policy: two roles, one permission with a condition; `{condition}` is replaced.
const POLICY: &str = r#"
roles:
  po_reader:
    description: reads purchase orders
    permissions: [purchase_orders.read]
  owner:
    description: updates the purchase orders it owns
    permissions:
      - { permission: purchase_orders.update, if: "{condition}" }
"#;

/// The condition, as the issue's Todo rule writes it (run natively).
const NATIVE_CONDITION: &str = "resource.properties.ownerID == subject.properties.email";
/// The same condition in a form the native path does not cover (run by the interpreter).
const INTERPRETED_CONDITION: &str =
    "[resource.properties.ownerID].exists(o, o == subject.properties.email)";

fn entity(kind: &str, id: &str) -> Entity {
    Entity {
        key: EntityKey {
            entity_type: EntityType::parse(kind).unwrap(),
            id: EntityId::parse(id).unwrap(),
        },
        aliases: Vec::new(),
        properties: Properties::default(),
        roles: Vec::new(),
        groups: Vec::new(),
        scope: None,
    }
}

fn property(name: &str, value: &str) -> Properties {
    std::iter::once((Arc::from(name), Value::String(value.into()))).collect()
}

fn directory() -> Directory {
    let mut entities = Vec::with_capacity(ORDERS + 2);
    for subject in ["fatma", "ali"] {
        let mut user = entity("user", subject);
        user.properties = property("email", &format!("{subject}@example.com"));
        user.roles.push(StandingRole {
            role: RoleName::parse("owner").unwrap(),
            scope: None,
        });
        entities.push(user);
    }
    for j in 0..ORDERS {
        let mut order = entity("po", &format!("po-{j}"));
        order.scope = Some(Scope::parse(&format!("Org:Dept{}/PO:{j}", j % DEPARTMENTS)).unwrap());
        let owner = if j % 100 == 7 { "fatma" } else { "someone" };
        order.properties = property("ownerID", &format!("{owner}@example.com"));
        entities.push(order);
    }
    Directory::new(entities).unwrap()
}

/// An active `po_reader` grant of `subject` on `scope`.
fn grant(subject: &str, scope: &str, clock: &ManualClock) -> Grant {
    support::active_grant(clock, subject, "po_reader", scope, None)
}

/// A decider over the directory: fatma holds 10 departments, ali one; caches warm.
fn decider(runtime: &tokio::runtime::Runtime, condition: &str) -> Decider {
    let policy = Policy::parse(&POLICY.replace("{condition}", condition), 2)
        .expect("the benchmark policy is valid");
    let decider = support::decider_holding(runtime, policy, |clock| {
        let mut grants: Vec<Grant> = (0..10)
            .map(|d| grant("fatma", &format!("Org:Dept{d}"), clock))
            .collect();
        grants.push(grant("ali", "Org:Dept3", clock));
        grants
    });
    decider.replace_stored_directory(directory());
    decider
}

fn query<'a>(subject: &'a str, permission: &'a str, resource: &'a str) -> AccessQuery<'a> {
    AccessQuery {
        subject: AccessEntity::parse("user", subject, Properties::default()).unwrap(),
        action: AccessAction::parse(permission, Properties::default()).unwrap(),
        resource: AccessEntity::parse("po", resource, Properties::default()).unwrap(),
        context: Properties::default(),
        session: None,
        token: None,
        min_revision: 0,
    }
}

fn check<'a>(subject: &'a str, permission: &'a str) -> CheckQuery<'a> {
    CheckQuery {
        subject: SubjectRef::parse(subject).unwrap(),
        session: None,
        permission,
        resource: "po:*",
        token: None,
        min_revision: 0,
    }
}

/// `SEARCHES` searches of each kind, timed one by one: p50, p99, max.
fn search_percentiles(runtime: &tokio::runtime::Runtime, decider: &Decider) {
    let searches: usize = std::env::var("SEARCHES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let window = SearchWindow {
        offset: 0,
        limit: 1000,
    };
    for (name, subject, permission, expected) in [
        (
            "read, 10 departments",
            "fatma",
            "purchase_orders.read",
            1000,
        ),
        ("read, 1 department", "ali", "purchase_orders.read", 1000),
        (
            "update, owner condition",
            "fatma",
            "purchase_orders.update",
            1000,
        ),
        ("nothing held", "nobody", "purchase_orders.read", 0),
    ] {
        let question = query(subject, permission, "*");
        let asked = check(subject, permission);
        let mut times: Vec<Duration> = Vec::with_capacity(searches);
        for _ in 0..searches {
            let started = Instant::now();
            let page = runtime.block_on(decider.search_resources(&asked, &question, window));
            times.push(started.elapsed());
            assert_eq!(page.found.len(), expected, "{name}");
            black_box(page);
        }
        times.sort();
        let at = |share: f64| times[((times.len() as f64 * share) as usize).min(times.len() - 1)];
        println!(
            "authzen/search over {ORDERS} entities, {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({searches} searches)",
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
        );
    }
}

/// One evaluation decided by the owner condition: native, then the interpreter.
fn condition(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    for (name, text) in [
        ("native", NATIVE_CONDITION),
        ("interpreted", INTERPRETED_CONDITION),
    ] {
        let decider = decider(runtime, text);
        let question = query("fatma", "purchase_orders.update", "po-7");
        let resolved = decider.resolve_access(&question).unwrap();
        let asked = CheckQuery {
            resource: resolved.scope().as_str(),
            ..check("fatma", "purchase_orders.update")
        };
        assert!(
            runtime
                .block_on(decider.check_access(&asked, &question, &resolved))
                .allowed
        );
        c.bench_function(&format!("authzen/owner_condition/{name}"), |b| {
            b.to_async(runtime).iter(|| async {
                black_box(
                    decider
                        .check_access(black_box(&asked), &question, &resolved)
                        .await,
                )
            });
        });
    }
}

/// One put announced by the change feed: the next snapshot, with one order's owner changed.
fn directory_one_put(c: &mut Criterion) {
    let directory = directory();
    let mut changed = entity("po", "po-500");
    changed.scope = Some(Scope::parse("Org:Dept0/PO:500").unwrap());
    changed.properties = property("ownerID", "fatma@example.com");
    let written = [changed.key.clone()];
    c.bench_function(&format!("authzen/directory_one_put/{ORDERS}"), |b| {
        b.iter(|| {
            black_box(
                directory
                    .with_changes(black_box(&written), vec![changed.clone()])
                    .unwrap(),
            )
        });
    });
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let searcher = decider(&runtime, NATIVE_CONDITION);
    search_percentiles(&runtime, &searcher);
    let mut criterion = Criterion::default().configure_from_args();
    condition(&mut criterion, &runtime);
    directory_one_put(&mut criterion);
    criterion.final_summary();
}
