//! Both engines must go through the same schema versions: every migration exists for
//! SQLite and for PostgreSQL, with the same version number and name; and data written by
//! an earlier version is still right after upgrading.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unused_macros)]
mod support;

use gloss_storage::{BlockKind, CommentFilter, RemoteCommentUpsert, Store, ThreadNode, Visibility};
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

// ---------------------------------------------------------------------------------------
// data written by an earlier version
// ---------------------------------------------------------------------------------------

/// Rows as version 0002 wrote them: a remote actor whose host has a port, and a comment.
const SEED_0002: &str = "\
    INSERT INTO authors (username, display_name, created_at) \
        VALUES ('alice', 'Alice', '2024-03-01T12:00:00Z'); \
    INSERT INTO posts (author_id, title, slug, source, content_html, status, origin, \
        published_at, created_at) VALUES (1, 'Talk', 'talk', 'x', '<p>x</p>', 'published', \
        'local', '2024-03-01T12:00:00Z', '2024-03-01T12:00:00Z'); \
    INSERT INTO remote_actors (ap_id, kind, inbox, public_key_id, public_key_pem, host, \
        delivery_host, fetched_at) VALUES ('https://a.example:8443/users/ann', 'Person', \
        'https://a.example:8443/users/ann/inbox', 'https://a.example:8443/users/ann#main-key', \
        'pem', 'a.example:8443', 'a.example:8443', '2024-03-01T12:00:00Z'); \
    INSERT INTO comments (post_id, author_name, content_html, origin, moderation, \
        published_at, created_at) VALUES (1, 'Reader', '<p>old</p>', 'local', 'approved', \
        '2024-03-01T12:00:00Z', '2024-03-01T12:00:00Z');";

/// After upgrading: the old comment is public as before, and the old actor's domain was
/// filled in (a domain block matches a comment it writes from now on).
async fn check_upgraded(store: Arc<dyn Store>) {
    let post = store.post_by_slug("talk").await.unwrap().unwrap();
    let comments = store
        .comments_for_post(post.id, CommentFilter::Public)
        .await
        .unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].visibility, Visibility::Public);
    assert!(!comments[0].sensitive && comments[0].attachments.is_empty());
    assert_eq!(store.count_public_comments(post.id).await.unwrap(), 1);

    let ann = store
        .remote_actor_by_ap_id("https://a.example:8443/users/ann")
        .await
        .unwrap()
        .unwrap();
    let upsert = RemoteCommentUpsert {
        ap_id: "https://a.example:8443/users/ann/statuses/1".to_owned(),
        parent: ThreadNode::Post(post.id),
        remote_actor_id: ann.id,
        author_name: "ann".to_owned(),
        author_url: None,
        author_avatar_url: None,
        content_html: "<p>new</p>".to_owned(),
        summary: None,
        sensitive: false,
        attachments: Vec::new(),
        url: None,
        in_reply_to_ap_id: None,
        visibility: Visibility::Public,
        published_at: support::at(10),
        updated_at: None,
        moderation: gloss_storage::Moderation::Approved,
        moderation_reason: None,
    };
    store.upsert_remote_comment(upsert).await.unwrap();
    assert_eq!(store.count_public_comments(post.id).await.unwrap(), 2);
    store
        .add_block(BlockKind::Domain, "a.example", "", support::at(20))
        .await
        .unwrap();
    assert_eq!(store.count_public_comments(post.id).await.unwrap(), 1);
}

/// The engine's migrations, read from the tree, to apply only the first ones.
async fn migrator(engine: &str) -> Migrator {
    Migrator::new(migrations_dir(engine)).await.unwrap()
}

#[tokio::test]
async fn sqlite_upgrade_from_0002_keeps_comments_and_fills_actor_domains() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("gloss.db").display());
    {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        migrator("sqlite").await.run_to(2, &pool).await.unwrap();
        sqlx::raw_sql(SEED_0002).execute(&pool).await.unwrap();
        pool.close().await;
    }
    check_upgraded(gloss_storage::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_upgrade_from_0002_keeps_comments_and_fills_actor_domains() {
    let Ok(admin_url) = std::env::var("GLOSS_TEST_POSTGRES_URL") else {
        println!("skipped: set GLOSS_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    let name = format!("gloss_test_{:016x}", rand::random::<u64>());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let outcome = tokio::spawn(async move {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        migrator("postgres").await.run_to(2, &pool).await.unwrap();
        sqlx::raw_sql(SEED_0002).execute(&pool).await.unwrap();
        pool.close().await;
        check_upgraded(gloss_storage::connect(&url).await.unwrap()).await;
    })
    .await;
    support::drop_database(&mut admin, &name).await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}
