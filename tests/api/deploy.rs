//! The deployment files: the Kubernetes manifests pass the API schema (strict: unknown
//! fields fail), the ConfigMap names only real settings and the real loader accepts them,
//! the probes and mounts line up with the settings, and the Dockerfile builds the binary in
//! one stage and runs it with ffmpeg in a small second one.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::cli::roomcast;

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s")
}

/// The manifests other than the kustomization.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(k8s_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().unwrap() != "kustomization.yaml")
        .collect();
    files.sort();
    files
}

fn python() -> Command {
    let mut cmd = Command::new("python3");
    cmd.env_remove("PYTHONPATH");
    cmd
}

/// Every document of a YAML file, as JSON (through PyYAML, which the validator brings).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let out = python()
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn all_documents() -> Vec<Value> {
    manifests().iter().flat_map(|p| yaml_documents(p)).collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/k8s"))
}

#[test]
fn the_kubernetes_manifests_pass_the_strict_schema_check() {
    let out = python()
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(manifests())
        .output()
        .expect("python3 runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("No module named kubernetes_validate"),
        "pip install kubernetes-validate==1.37.0 (as .ci/run does)"
    );
    assert!(out.status.success(), "{report}");

    // The kustomization lists every manifest, so `kubectl apply -k` applies them all.
    let kustomization = yaml_documents(&k8s_dir().join("kustomization.yaml"));
    let listed: Vec<&str> = kustomization[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for file in manifests() {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            listed.contains(&name),
            "{name} is not in kustomization.yaml"
        );
    }
}

#[test]
fn the_configmap_names_real_settings_that_the_loader_accepts() {
    let docs = all_documents();
    let data = find(&docs, "ConfigMap", "roomcast")["data"]
        .as_object()
        .unwrap()
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = roomcast(dir.path());
    cmd.arg("config").env(
        "ROOMCAST__DATABASE__URL",
        "postgres://roomcast:pw@db:5432/roomcast",
    );
    for (key, value) in &data {
        cmd.env(key, value.as_str().unwrap());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let effective: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (key, value) in &data {
        let Some(path) = key.strip_prefix("ROOMCAST__") else {
            assert_eq!(
                key, "RUST_LOG",
                "only settings and the log level belong here"
            );
            continue;
        };
        let (section, name) = path.split_once("__").unwrap();
        let setting = &effective[section.to_lowercase()][name.to_lowercase()];
        assert!(!setting.is_null(), "{key} is not a setting");
        let shown = match setting {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(shown, value.as_str().unwrap(), "{key}");
    }
    assert_eq!(
        effective["bus"]["kind"], "nats",
        "the manifests run many nodes"
    );
    assert_eq!(
        effective["database"]["url"], "postgres://roomcast:***@db:5432/roomcast",
        "the password is not printed"
    );
}

/// The port of a `HOST:PORT` setting.
fn port_of(addr: &Value) -> u64 {
    let addr = addr.as_str().unwrap();
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn the_deployment_probes_mounts_and_references_line_up() {
    let docs = all_documents();
    let config = &find(&docs, "ConfigMap", "roomcast")["data"];
    let deployment = find(&docs, "Deployment", "roomcast");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    let port = port_of(&config["ROOMCAST__HTTP__ADDR"]);
    assert_eq!(container["ports"][0]["containerPort"], port);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0,
        "upgrades never take a node away before its replacement is ready"
    );

    // The media volume is the storage directory, shared read-write by every node.
    let mount = &container["volumeMounts"][0];
    assert_eq!(mount["mountPath"], config["ROOMCAST__STORAGE__DIR"]);
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let claim = volume["persistentVolumeClaim"]["claimName"]
        .as_str()
        .unwrap();
    let pvc = find(&docs, "PersistentVolumeClaim", claim);
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");

    // What the pods reference exists.
    let secret_ref = &container["env"][0]["valueFrom"]["secretKeyRef"];
    let secret = find(&docs, "Secret", secret_ref["name"].as_str().unwrap());
    assert!(!secret["stringData"][secret_ref["key"].as_str().unwrap()].is_null());
    let config_ref = container["envFrom"][0]["configMapRef"]["name"]
        .as_str()
        .unwrap();
    find(&docs, "ConfigMap", config_ref);
    let nats = config["ROOMCAST__BUS__NATS_URL"].as_str().unwrap();
    let nats_service = nats
        .trim_start_matches("nats://")
        .split(':')
        .next()
        .unwrap();
    find(&docs, "Service", nats_service);
    let service = find(&docs, "Service", "roomcast");
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    // Publishers reach the pods' RTMP listener through a TCP load balancer.
    let rtmp_port = port_of(&config["ROOMCAST__INGEST__RTMP_ADDR"]);
    let rtmp = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "rtmp")
        .expect("the container names its RTMP port");
    assert_eq!(rtmp["containerPort"], rtmp_port);
    let balancer = find(&docs, "Service", "roomcast-rtmp");
    assert_eq!(balancer["spec"]["type"], "LoadBalancer");
    assert_eq!(
        balancer["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let port = &balancer["spec"]["ports"][0];
    assert_eq!(
        (&port["targetPort"], &port["protocol"]),
        (&"rtmp".into(), &"TCP".into())
    );
    let public = config["ROOMCAST__INGEST__RTMP_PUBLIC_URL"]
        .as_str()
        .unwrap();
    assert!(
        public.ends_with(&format!(":{}/live", port["port"])),
        "the go-live panel names the balancer's port: {public}"
    );
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_with_ffmpeg_in_another() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let stages: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].ends_with(" AS build") && stages[1].contains("-slim"));
    let runtime = text.split("AS runtime").nth(1).unwrap();
    assert!(runtime.contains("ffmpeg"), "the runtime image has ffmpeg");
    assert!(runtime.contains("COPY --from=build /src/target/release/roomcast"));
    assert!(runtime.contains("USER 10001"), "it does not run as root");
    assert!(
        runtime.contains("ROOMCAST__HTTP__ADDR=0.0.0.0:8080") && runtime.contains("EXPOSE 8080")
    );
    assert!(text.contains("cargo build --release --locked --bin roomcast"));
    // The build context leaves out build output and local data.
    let ignore =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".dockerignore"))
            .unwrap();
    for entry in ["target/", "data/", ".git/"] {
        assert!(
            ignore.lines().any(|l| l == entry),
            "{entry} in .dockerignore"
        );
    }
}
