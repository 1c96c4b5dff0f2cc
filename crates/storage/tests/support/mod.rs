//! What both conformance suites share: the harness that runs a test body on each engine
//! (see the `conformance!` macro) and the data helpers most tests use.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use gloss_storage::{
    Author, AuthorId, NewAuthor, Post, PostDraft, PostOrigin, PostStatus, Store, Tag,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::future::Future;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// harness
// ---------------------------------------------------------------------------------------

/// Runs `body` on a fresh SQLite database file.
pub async fn with_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("gloss.db").display());
    let store = gloss_storage::connect(&url).await.expect("open SQLite");
    body(store).await;
}

/// Runs `body` on a fresh PostgreSQL database, or says that it skipped.
pub async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var("GLOSS_TEST_POSTGRES_URL") else {
        println!("skipped: set GLOSS_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    let name = format!("gloss_test_{:016x}", rand::random::<u64>());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("connect to GLOSS_TEST_POSTGRES_URL");
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let mut url = url::Url::parse(&admin_url).expect("GLOSS_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));

    // The body runs in its own task so that the database is dropped even if it panics.
    let outcome = match gloss_storage::connect(url.as_str()).await {
        Ok(store) => tokio::spawn(body(store)).await,
        Err(err) => {
            drop_database(&mut admin, &name).await;
            panic!("open the test database: {err}");
        }
    };
    drop_database(&mut admin, &name).await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// Drops a test database, best effort (FORCE closes the store's remaining connections).
pub async fn drop_database(admin: &mut PgConnection, name: &str) {
    let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    if let Err(err) = sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(&mut *admin)
        .await
    {
        eprintln!("could not drop test database {name}: {err}");
    }
}

/// Instantiates each test body for both engines.
macro_rules! conformance {
    ($($body:ident => $sqlite:ident, $postgres:ident;)*) => {
        $(
            #[tokio::test]
            async fn $sqlite() {
                $crate::support::with_sqlite($body).await;
            }

            #[tokio::test]
            async fn $postgres() {
                $crate::support::with_postgres($body).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------------------

/// A fixed point in time plus `minutes`, so that tests control the order of things.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

pub fn new_author(username: &str, password_hash: Option<&str>) -> NewAuthor {
    NewAuthor {
        username: username.to_owned(),
        display_name: format!("{username} Example"),
        password_hash: password_hash.map(str::to_owned),
        is_admin: false,
        import_key: None,
    }
}

pub async fn author(store: &dyn Store, username: &str) -> Author {
    store
        .create_author(new_author(username, Some("$argon2id$hash")))
        .await
        .unwrap()
}

pub fn tag(name: &str) -> Tag {
    Tag {
        slug: name.to_lowercase(),
        name: name.to_owned(),
    }
}

pub fn tags(names: &[&str]) -> Vec<Tag> {
    names.iter().map(|name| tag(name)).collect()
}

pub fn draft(
    author: AuthorId,
    slug: &str,
    status: PostStatus,
    published_at: DateTime<Utc>,
    tag_names: &[&str],
) -> PostDraft {
    PostDraft {
        author_id: author,
        title: format!("Title of {slug}"),
        slug: slug.to_owned(),
        source: format!("Source of *{slug}*"),
        content_html: format!("<p>Source of <em>{slug}</em></p>"),
        summary: Some(format!("Summary of {slug}")),
        tags: tags(tag_names),
        status,
        origin: PostOrigin::Local,
        published_at,
        import_key: None,
    }
}

pub async fn post(store: &dyn Store, author: AuthorId, slug: &str, minutes: i64) -> Post {
    store
        .create_post(
            draft(author, slug, PostStatus::Published, at(minutes), &[]),
            Vec::new(),
        )
        .await
        .unwrap()
}

/// Asserts that `time` lies between `before` and now.
pub fn assert_recent(time: DateTime<Utc>, before: DateTime<Utc>) {
    let after = Utc::now() + Duration::seconds(1);
    assert!(
        time >= before - Duration::seconds(1) && time <= after,
        "{time} is not between {before} and {after}"
    );
}
