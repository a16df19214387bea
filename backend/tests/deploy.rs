//! The deployment files in `deploy/` are valid and agree with the server:
//! Kubernetes manifests have what a rolling update of WebSocket nodes
//! needs, and every setting the files pass names a flag or environment
//! variable the server knows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::CommandFactory;
use parley_server::config::Config;
use serde_yaml_ng::Value;
use std::collections::HashSet;
use std::path::PathBuf;

fn deploy(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Every environment variable and long flag the server reads.
fn known() -> (HashSet<String>, HashSet<String>) {
    let command = Config::command();
    let mut envs = HashSet::from(["RUST_LOG".to_owned()]);
    let mut flags = HashSet::new();
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env() {
            envs.insert(env.to_string_lossy().into_owned());
        }
        if let Some(long) = arg.get_long() {
            flags.insert(format!("--{long}"));
        }
    }
    (envs, flags)
}

fn documents() -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(&deploy("kubernetes/parley.yaml"))
        .map(|doc| serde::Deserialize::deserialize(doc).expect("valid YAML"))
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

#[test]
fn kubernetes_manifests_run_nodes_that_stop_gracefully_behind_a_websocket_ingress() {
    let docs = documents();
    let expected = [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("networking.k8s.io/v1", "Ingress"),
        ("policy/v1", "PodDisruptionBudget"),
    ];
    for (api, kind) in expected {
        let doc = of_kind(&docs, kind);
        assert_eq!(doc["apiVersion"].as_str(), Some(api), "{kind}");
        assert!(
            doc["metadata"]["name"].as_str().is_some(),
            "{kind} has a name"
        );
    }
    assert_eq!(docs.len(), expected.len(), "no other documents");

    let deployment = of_kind(&docs, "Deployment");
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 15);
    let container = &pod["containers"][0];
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["path"].as_str(),
            Some("/healthz")
        );
        assert_eq!(container[probe]["httpGet"]["port"].as_str(), Some("http"));
    }
    assert!(
        container["lifecycle"]["preStop"].is_mapping(),
        "preStop pause"
    );
    let port = &container["ports"][0];
    assert_eq!(
        (port["name"].as_str(), port["containerPort"].as_u64()),
        (Some("http"), Some(8080))
    );

    // The settings it passes are the server's.
    let (envs, flags) = known();
    let mut names = Vec::new();
    for env in container["env"].as_sequence().unwrap() {
        let name = str_of(&env["name"], "env name");
        assert!(envs.contains(name), "unknown environment variable {name}");
        names.push(name);
        if let Some(value) = env["value"].as_str() {
            if name == "PARLEY_BIND" {
                assert!(value.ends_with(":8080"), "binds the container port");
            }
        } else {
            let secret = &env["valueFrom"]["secretKeyRef"];
            assert!(
                secret["name"].is_string() && secret["key"].is_string(),
                "{name}"
            );
        }
    }
    for needed in [
        "DATABASE_URL",
        "PARLEY_NATS_URL",
        "PARLEY_TURN_SECRET",
        "PARLEY_BIND",
        "PARLEY_BLOB_STORE",
    ] {
        assert!(names.contains(&needed), "sets {needed}");
    }
    for arg in container["args"].as_sequence().unwrap() {
        let arg = str_of(arg, "arg");
        if arg.starts_with("--") {
            assert!(flags.contains(arg), "unknown flag {arg}");
        }
    }

    // The Service selects the pods and targets the named port; the Ingress
    // and the budget point at them.
    let service = of_kind(&docs, "Service");
    for (key, value) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(&labels[key], value);
    }
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"].as_str(),
        Some("http")
    );
    let ingress = of_kind(&docs, "Ingress");
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], service["metadata"]["name"]);
    assert_eq!(backend["port"]["name"].as_str(), Some("http"));
    let timeout =
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]
            .as_str()
            .unwrap();
    assert!(
        timeout.parse::<u32>().unwrap() > 30,
        "idle sockets outlive a heartbeat"
    );
    let budget = of_kind(&docs, "PodDisruptionBudget");
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], labels);
    assert!(budget["spec"]["maxUnavailable"].as_u64().is_some());
}

#[test]
fn systemd_and_container_settings_are_the_servers() {
    let (envs, _) = known();
    let example = deploy("systemd/parley.env.example");
    let mut count = 0;
    for line in example.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, _) = line.split_once('=').expect("NAME=value");
        assert!(envs.contains(name), "unknown environment variable {name}");
        count += 1;
    }
    assert!(count >= 5);
    let unit = deploy("systemd/parley.service");
    for needed in [
        "EnvironmentFile=/etc/parley/parley.env",
        "ExecStart=/usr/local/bin/parley-server",
        "KillSignal=SIGTERM",
        "[Install]",
    ] {
        assert!(unit.contains(needed), "parley.service: {needed}");
    }
    let image = deploy("Containerfile");
    for line in image
        .lines()
        .filter(|l| l.trim_start().starts_with("PARLEY_") || l.starts_with("ENV "))
    {
        let name = line
            .trim_start_matches("ENV ")
            .trim()
            .split('=')
            .next()
            .unwrap();
        assert!(envs.contains(name), "Containerfile: unknown {name}");
    }
    assert!(image.contains("STOPSIGNAL SIGTERM"));
}
