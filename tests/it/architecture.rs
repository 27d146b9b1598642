//! The pure core never imports the I/O edges (see src/lib.rs).

#[test]
fn core_modules_do_not_import_edges() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let core = [
        "settings.rs",
        "query.rs",
        "official.rs",
        "chtype.rs",
        "error.rs",
        "live.rs",
        "metrics.rs",
        "sql",
        "frames",
    ];
    let forbidden = [
        "tokio",
        "tonic",
        "hyper",
        "clickhouse::",
        "crate::clickhouse",
        "crate::grpc",
        "crate::service",
        "crate::resources",
    ];
    let mut files = Vec::new();
    for entry in core {
        let p = root.join(entry);
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                files.push(f.unwrap().path());
            }
        } else {
            files.push(p);
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| l.trim_start().starts_with("use ")) {
            for bad in forbidden {
                assert!(
                    !line.contains(bad),
                    "{}: core module imports an edge: {line}",
                    file.display()
                );
            }
        }
    }
}
