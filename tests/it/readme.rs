//! The README's macro table is generated from the engine's catalogue and must stay current.
//! `LANTERN_UPDATE_README=1 cargo test readme` rewrites it; nothing else does.

#[test]
fn readme_macro_table_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- macros:start -->\n", "<!-- macros:end -->");
    let a = readme
        .find(start)
        .expect("README has the macros:start marker")
        + start.len();
    let b = readme.find(end).expect("README has the macros:end marker");
    let table = lantern::macros::render_markdown();
    if std::env::var("LANTERN_UPDATE_README").as_deref() == Ok("1") {
        let updated = format!("{}{}{}", &readme[..a], table, &readme[b..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &readme[a..b],
        table,
        "README macro table is stale: run LANTERN_UPDATE_README=1 cargo test readme"
    );
}
