//! The scale-out recipe under deploy/ stays valid: the docker compose file is what
//! `docker compose config` accepts, every sipbridge node's YAML loads as the bridge would
//! load it, and Kamailio accepts its configuration. (tests/tests/cluster_nodes.rs runs the
//! recipe's Kamailio configuration in front of real nodes.)
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use sipbridge_tests::Bed;

fn deploy_file(name: &str) -> PathBuf {
    Bed::tests_file("../deploy").join(name)
}

#[test]
fn the_compose_file_is_valid_compose() {
    let test = "the_compose_file_is_valid_compose";
    let Some(bed) = Bed::get(test) else { return };
    let compose = bed
        .docker_compose
        .clone()
        .filter(|path| path.exists())
        .unwrap_or_else(|| panic!("{test}: docker-compose is not built: run tests/bed/setup"));
    let output = Command::new(compose)
        .arg("-f")
        .arg(deploy_file("docker-compose.yml"))
        .args(["config", "--quiet"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker compose config: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_nodes_configuration_loads_in_cluster_mode() {
    let mut nodes = 0;
    for entry in std::fs::read_dir(Bed::tests_file("../deploy")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("sipbridge-") && name.ends_with(".yaml")) {
            continue;
        }
        let config = sipbridge_config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.mode, sipbridge_config::Mode::Cluster, "{name}");
        nodes += 1;
    }
    assert!(nodes >= 2, "the recipe has two nodes, found {nodes}");
}

#[test]
fn kamailio_accepts_the_load_balancer_configuration() {
    let test = "kamailio_accepts_the_load_balancer_configuration";
    if Bed::get(test).is_none() {
        return;
    }
    let output = Command::new("kamailio")
        .arg("-c")
        .arg("-f")
        .arg(deploy_file("kamailio/kamailio.cfg"))
        .output()
        .unwrap_or_else(|e| panic!("{test}: kamailio (tests/bed/setup installs it): {e}"));
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && said.contains("config file ok"),
        "{said}"
    );
}
