//! Both engines must go through the same schema versions: every migration exists for
//! SQLite and for PostgreSQL, with the same version number and name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn migrations_dir(engine: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(engine)
}

fn migration_files(engine: &str) -> BTreeSet<String> {
    let dir = migrations_dir(engine);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sql"))
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_versions_and_names() {
    let sqlite = migration_files("sqlite");
    let postgres = migration_files("postgres");
    assert!(!sqlite.is_empty(), "no migrations found for SQLite");
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same file names"
    );
}

#[test]
fn migration_file_names_start_with_a_version_number() {
    for engine in ["sqlite", "postgres"] {
        for name in migration_files(engine) {
            let (version, rest) = name
                .split_once('_')
                .unwrap_or_else(|| panic!("{engine}/{name}: expected VERSION_NAME.sql"));
            assert!(
                !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()),
                "{engine}/{name}: the version must be digits"
            );
            assert!(
                rest.len() > ".sql".len(),
                "{engine}/{name}: the name is empty"
            );
        }
    }
}
