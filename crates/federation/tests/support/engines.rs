//! Every storage-backed federation and web test runs on SQLite, and on PostgreSQL (a fresh
//! database per test, dropped afterwards) when `GLOSS_TEST_POSTGRES_URL` is set.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use url::Url;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// Runs `body` with the URL of a fresh database of `engine`.
pub(crate) async fn run_on<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            body(format!("sqlite:{}/t.db", dir.path().display())).await;
        }
        Engine::Postgres => {
            use sqlx::{AssertSqlSafe, Connection, PgConnection};
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
            let mut url = Url::parse(&admin_url).unwrap();
            url.set_path(&format!("/{name}"));
            // In its own task, so that the database is dropped even when the body panics.
            let outcome = tokio::spawn(body(url.to_string())).await;
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(err) = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await {
                eprintln!("could not drop test database {name}: {err}");
            }
            if let Err(err) = outcome {
                std::panic::resume_unwind(err.into_panic());
            }
        }
    }
}

/// One test body per engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($body:ident => $sqlite:ident, $postgres:ident;)*) => {
        $(
            #[tokio::test]
            async fn $sqlite() {
                run_on(Engine::Sqlite, $body).await;
            }

            #[tokio::test]
            async fn $postgres() {
                run_on(Engine::Postgres, $body).await;
            }
        )*
    };
}
