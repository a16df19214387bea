//! A short, seeded run of every fuzz target, so `cargo test` (and with it
//! `cargo xtask test`) catches a decoder that panics on inputs near the
//! seeds. `cargo xtask fuzz` runs the same targets for minutes.
#![allow(clippy::panic)]

use parley_fuzz::TARGETS;
use parley_fuzz::engine::{Budget, fuzz, stable_hash};
use parley_fuzz::targets::find;
use std::time::Duration;

fn short_run(name: &str) {
    let Some(spec) = find(name) else {
        panic!("no fuzz target `{name}`");
    };
    let budget = Budget {
        runs: Some(spec.test_runs),
        time: None,
        slow: Duration::from_secs(10),
    };
    let outcome = fuzz(spec, stable_hash(name.as_bytes()), budget, &[]);
    if let Some(finding) = outcome.finding {
        panic!("{name}: {finding}");
    }
    assert!(
        outcome.accepted > 0,
        "{name}: nothing decoded, not even the seeds"
    );
}

/// The targets below, one test each.
const TESTED: &[&str] = &[
    "client_frame",
    "server_frame",
    "content",
    "call_signal",
    "olm_payload",
    "pickle",
    "group_message",
    "group_pickle",
    "key_upload",
    "device_keys",
    "group_event",
    "rest_bodies",
    "photo_header",
    "push_subscription",
    "cluster_message",
    "text",
    "turn_username",
];

#[test]
fn every_target_has_a_short_run() {
    let names: Vec<&str> = TARGETS.iter().map(|spec| spec.name).collect();
    assert_eq!(names, TESTED);
}

#[test]
fn client_frame() {
    short_run("client_frame");
}

#[test]
fn server_frame() {
    short_run("server_frame");
}

#[test]
fn content() {
    short_run("content");
}

#[test]
fn call_signal() {
    short_run("call_signal");
}

#[test]
fn olm_payload() {
    short_run("olm_payload");
}

#[test]
fn pickle() {
    short_run("pickle");
}

#[test]
fn group_message() {
    short_run("group_message");
}

#[test]
fn group_pickle() {
    short_run("group_pickle");
}

#[test]
fn key_upload() {
    short_run("key_upload");
}

#[test]
fn device_keys() {
    short_run("device_keys");
}

#[test]
fn group_event() {
    short_run("group_event");
}

#[test]
fn rest_bodies() {
    short_run("rest_bodies");
}

#[test]
fn photo_header() {
    short_run("photo_header");
}

#[test]
fn text() {
    short_run("text");
}

#[test]
fn turn_username() {
    short_run("turn_username");
}

#[test]
fn push_subscription() {
    short_run("push_subscription");
}

#[test]
fn cluster_message() {
    short_run("cluster_message");
}
