//! Issue 11: what ships. The packaged binary must run on any Grafana image, and the files that
//! install and provision it (compose, provisioning, README) must agree with `plugin.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::engine::{engine, token};
use crate::host::{Host, Q, datasource};

const ID: &str = "lantern-clickhouse-datasource";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn plugin_json() -> Value {
    serde_json::from_str(&read("plugin.json")).expect("plugin.json is JSON")
}

/// A made-up name, known only to the empty root's /etc/hosts.
const ENGINE_NAME: &str = "clickhouse.lantern.test";

/// The zip's linux/amd64 binary in a directory holding nothing else but `/etc/hosts` and
/// `/etc/resolv.conf` (no libc, no loader, no CA files, no /proc, no /dev), started through
/// `chroot` as Grafana would start it. Handshake, health and a query must work, with the engine
/// reached by a host name only `/etc/hosts` knows. A dynamic binary cannot even start here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the package: `bash .ci/package --check` builds it and runs this test"]
async fn packaged_binary_runs_in_an_empty_root() {
    let zip = repo().join(format!("dist/{ID}-{}.zip", env!("CARGO_PKG_VERSION")));
    assert!(
        zip.exists(),
        "{} is missing: run `bash .ci/package` first",
        zip.display()
    );
    let root = EmptyRoot::new();
    let binary = root.0.join("gpx_lantern_linux_amd64");
    let out = Command::new("unzip")
        .arg("-p")
        .arg(&zip)
        .arg(format!("{ID}/gpx_lantern_linux_amd64"))
        .output()
        .expect("unzip must be installed");
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "no gpx_lantern_linux_amd64 in the zip"
    );
    std::fs::write(&binary, &out.stdout).unwrap();
    set_mode(&binary, 0o755);
    std::fs::create_dir(root.0.join("etc")).unwrap();
    std::fs::write(
        root.0.join("etc/hosts"),
        format!("127.0.0.1 localhost\n127.0.0.1 {ENGINE_NAME}\n"),
    )
    .unwrap();
    // No DNS server listens there: a name missing from /etc/hosts fails instead of resolving.
    std::fs::write(
        root.0.join("etc/resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    assert_eq!(
        root.listing(),
        [
            "etc",
            "etc/hosts",
            "etc/resolv.conf",
            "gpx_lantern_linux_amd64"
        ],
        "the root holds the binary and the two resolver files, nothing else"
    );

    let mut chroot = Command::new(find_program("chroot"));
    chroot.arg(&root.0).arg("/gpx_lantern_linux_amd64");
    let host = Host::start_command(chroot, &[]).await; // asserts the handshake line

    let e = engine();
    let (_, port) = e.host();
    let by_name = |name: &str| {
        datasource(
            json!({"host": name, "port": port, "protocol": "http", "username": e.user,
                   "dialTimeout": 3, "queryTimeout": 10}),
            &[("password", &e.password)],
        )
    };
    let ds = by_name(ENGINE_NAME);
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 1, "health by host name: {message} {details}");
    assert!(message.starts_with("Connected to ClickHouse"), "{message}");

    let mut answers = host
        .query(
            &ds,
            vec![Q::sql("A", "SELECT 42 AS answer, version() AS server")],
        )
        .await;
    let a = answers.remove("A").unwrap();
    assert_eq!(a.frame().field("answer").values, vec![json!(42)]);

    // A name /etc/hosts does not list is an error that names it.
    let (status, message, details) = host.check_health(&by_name("nowhere.lantern.test")).await;
    assert_eq!(status, 2, "{message}");
    assert_eq!(details["category"], "network", "{message}");
    assert!(
        message.contains("cannot resolve host `nowhere.lantern.test`"),
        "{message}"
    );
}

/// A fresh directory under the system temp dir, removed afterwards.
struct EmptyRoot(PathBuf);

impl EmptyRoot {
    fn new() -> EmptyRoot {
        let dir = std::env::temp_dir().join(format!("lantern-empty-root-{}", token()));
        std::fs::create_dir_all(&dir).unwrap();
        EmptyRoot(dir)
    }

    /// Every path under the root, relative and sorted.
    fn listing(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if path.is_dir() {
                    walk(&path, base, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out);
        out.sort();
        out
    }
}

impl Drop for EmptyRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `name` on PATH or in the sbin directories (the plugin's environment is cleared, so the
/// program is given by absolute path).
fn find_program(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found"))
}

/// `key: value` of a simple YAML file, for every occurrence of `key` (quotes and comments
/// dropped). Enough for our provisioning files; not a YAML parser.
fn yaml_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(" #").next().unwrap_or(line).trim();
            let line = line.strip_prefix("- ").unwrap_or(line);
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            Some(rest.trim().trim_matches(['"', '\'']).to_owned())
        })
        .collect()
}

/// `>=X.Y.Z` (the only form our plugin.json uses) against a version.
fn satisfies(version: &str, range: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(['.', '-'])
            .take(3)
            .map(|p| {
                p.parse()
                    .unwrap_or_else(|_| panic!("version part {p:?} in {v:?}"))
            })
            .collect()
    };
    let floor = range
        .strip_prefix(">=")
        .unwrap_or_else(|| panic!("grafanaDependency {range:?}: only >=X.Y.Z is checked here"));
    parse(version) >= parse(floor.trim())
}

/// The compose file, the datasource provisioning and the README describe the same plugin as
/// plugin.json, and the Grafana the compose file starts is one plugin.json accepts and the
/// README names.
#[test]
fn compose_provisioning_and_readme_agree_with_plugin_json() {
    let plugin = plugin_json();
    let id = plugin["id"].as_str().unwrap();
    let exe = plugin["executable"].as_str().unwrap();
    let dependency = plugin["dependencies"]["grafanaDependency"]
        .as_str()
        .unwrap();
    let compose = read("provisioning/docker-compose.yaml");
    let readme = read("README.md");

    // Grafana's version: pinned, accepted by plugin.json, the one the README names.
    let images = yaml_values(&compose, "image");
    assert_eq!(images.len(), 1, "one image in the compose file: {images:?}");
    let version = images[0]
        .strip_prefix("grafana/grafana:")
        .unwrap_or_else(|| panic!("image {:?} is not grafana/grafana", images[0]));
    assert!(
        version.split('.').count() == 3 && version.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "the compose file pins an exact Grafana release of the default image, got {version:?}"
    );
    assert!(
        satisfies(version, dependency),
        "Grafana {version} does not satisfy plugin.json's grafanaDependency {dependency}"
    );
    assert!(
        readme.contains(&format!("grafana/grafana:{version}")),
        "README does not name the compose file's Grafana (grafana/grafana:{version})"
    );

    // The plugin: mounted under its id, allowed unsigned, provisioned with its id as type.
    assert!(
        compose.contains(&format!("../dist/{id}:/var/lib/grafana/plugins/{id}")),
        "compose mounts the staged plugin folder under its id"
    );
    assert_eq!(
        yaml_values(&compose, "GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"),
        [id]
    );
    let mut types = Vec::new();
    let mut uids = Vec::new();
    for entry in std::fs::read_dir(repo().join("provisioning/datasources")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        types.extend(yaml_values(&text, "type"));
        uids.extend(yaml_values(&text, "uid"));
    }
    assert!(!types.is_empty(), "a provisioned datasource");
    assert!(types.iter().all(|t| t == id), "datasource types {types:?}");
    for uid in &uids {
        assert!(
            readme.contains(&format!("uid `{uid}`")),
            "README names the provisioned uid `{uid}`"
        );
    }

    // The README's install steps use this id and the executable's Linux name.
    for needle in [
        format!("allow_loading_unsigned_plugins = {id}"),
        format!("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS={id}"),
        format!("plugins install {id}"),
        format!("{exe}_linux_amd64"),
    ] {
        assert!(readme.contains(&needle), "README lacks `{needle}`");
    }
    assert!(
        !readme.contains("-ubuntu"),
        "the binary is static: the README must not send users to -ubuntu images"
    );
}
