//! Group commit for the SQLite engine. SQLite has one writer at a time and, with
//! `synchronous=FULL`, every commit is an fsync: writes that each commit alone are bound
//! by the disk's flush latency. Here the writes that queue up while a commit is under
//! way are run together, each inside a savepoint of one transaction, and committed with
//! one fsync. Each write (one use case) stays atomic, sees the writes queued before it,
//! and its caller is answered only once the commit is durable.
//!
//! ```text
//!  caller ─job─► queue ─► writer task (one per store):
//!                          take the write gate (shared with `SqliteStore::begin_write`)
//!                          BEGIN IMMEDIATE                 (waits for another process's
//!                          for each queued job (≤ 64):      writer: busy timeout)
//!                              SAVEPOINT ─ job ─ok──► kept (nested), answer kept for later
//!                                            └err─► ROLLBACK TO + RELEASE, caller
//!                                                   answered with its error now
//!                          COMMIT ─ok──► every kept answer: Ok(value)
//!                                 └err─► every kept answer: Err (nothing of the batch
//!                                        was committed)
//! ```
//!
//! Nothing waits to fill a batch: the writer takes what is queued when it is free, so a
//! lone write costs what it did before and concurrent writes share commits. A job whose
//! caller went away (a dropped request) still runs and commits: a write, once queued,
//! is never left half done. If the savepoints themselves fail (SQLite rolled back the
//! whole transaction after an I/O error), every job of the batch fails and the
//! connection is closed rather than returned to the pool in an unknown state.

use crate::error::Error;
use crate::store::Result;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// The future a write job returns: its statements on the writer's connection.
pub(crate) type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// Called once the batch of a successful job is settled, with the commit's result.
type Answer = Box<dyn FnOnce(Result<()>) + Send>;
/// A queued job: runs its statements and gives back its answer, or `None` when it
/// failed (its caller already has the error).
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c> + Send + 'static>;
type JobFuture<'c> = Pin<Box<dyn Future<Output = Option<Answer>> + Send + 'c>>;

/// Most jobs in one transaction: bounds how long one commit keeps the others waiting.
const MAX_BATCH: usize = 64;

/// The queue of the SQLite writer task. Cloning the store shares it.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on the current Tokio runtime. `gate` is held for each
    /// batch; the engine's other write transactions take it too, so that in this
    /// process writers queue in order instead of polling SQLite's busy handler.
    pub(crate) fn start(pool: SqlitePool, gate: Arc<Mutex<()>>) -> GroupCommit {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run_writer(pool, gate, queue));
        GroupCommit { jobs }
    }

    /// Runs `job` in the next batch and returns its value once that batch is
    /// committed. The job must only use the connection it is given (never the store:
    /// the writer would wait for itself), and must not begin, commit or roll back.
    pub(crate) async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let (queued, answered) = job_with_answer(job);
        self.jobs
            .send(queued)
            .map_err(|_| Error::NotCommitted("the SQLite writer has stopped".to_owned()))?;
        answered.await.map_err(|_| {
            Error::NotCommitted("the write was dropped before its commit".to_owned())
        })?
    }
}

/// Wraps `job` for the queue, with the channel its caller is answered on.
fn job_with_answer<T, F>(job: F) -> (Job, oneshot::Receiver<Result<T>>)
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> WriteFuture<'c, T> + Send + 'static,
{
    let (answer, answered) = oneshot::channel::<Result<T>>();
    let queued: Job = Box::new(move |conn| {
        Box::pin(async move {
            match job(conn).await {
                Ok(value) => Some(Box::new(move |committed: Result<()>| {
                    // The caller may have gone away; the write is committed anyway.
                    let _ = answer.send(committed.map(|()| value));
                }) as Answer),
                Err(err) => {
                    let _ = answer.send(Err(err));
                    None
                }
            }
        })
    });
    (queued, answered)
}

/// The writer task: one batch at a time, until the store is dropped.
async fn run_writer(
    pool: SqlitePool,
    gate: Arc<Mutex<()>>,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _gate = gate.lock().await;
        commit_batch(&pool, &mut batch).await;
        // Jobs not run (a failure before their turn) are dropped with their answer
        // channels: their callers get `Error::NotCommitted`.
        batch.clear();
    }
}

/// Runs the jobs of `batch` in one transaction and answers them.
async fn commit_batch(pool: &SqlitePool, batch: &mut Vec<Job>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(err) => {
            tracing::error!(error = %err, jobs = batch.len(), "SQLite writer: no connection");
            return;
        }
    };
    if let Err(err) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await {
        tracing::error!(error = %err, jobs = batch.len(), "SQLite writer: BEGIN failed");
        return;
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(err) = run_job(&mut conn, job, &mut answers).await {
            abandon(conn, answers, &format!("a savepoint failed: {err}")).await;
            return;
        }
    }
    match sqlx::raw_sql("COMMIT").execute(&mut *conn).await {
        Ok(_) => {
            for answer in answers {
                answer(Ok(()));
            }
        }
        Err(err) => abandon(conn, answers, &format!("the commit failed: {err}")).await,
    }
}

/// One job inside its savepoint; its answer joins `answers` when it succeeded.
async fn run_job(
    conn: &mut PoolConnection<Sqlite>,
    job: Job,
    answers: &mut Vec<Answer>,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::raw_sql("SAVEPOINT gloss_write")
        .execute(&mut **conn)
        .await?;
    match job(conn).await {
        // Not released: the savepoints of the successful jobs nest, and the COMMIT
        // releases them all (one statement, one round trip, fewer per job). A later
        // job's ROLLBACK TO names the most recent savepoint of that name, its own.
        Some(answer) => answers.push(answer),
        None => {
            sqlx::raw_sql("ROLLBACK TO gloss_write")
                .execute(&mut **conn)
                .await?;
            sqlx::raw_sql("RELEASE gloss_write")
                .execute(&mut **conn)
                .await?;
        }
    }
    Ok(())
}

/// The batch cannot be committed: roll back, close the connection (its state is not
/// known), and fail every job that had succeeded in it.
async fn abandon(mut conn: PoolConnection<Sqlite>, answers: Vec<Answer>, why: &str) {
    tracing::error!(
        jobs = answers.len(),
        reason = why,
        "SQLite writer: batch not committed"
    );
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    let _ = conn.close().await;
    for answer in answers {
        answer(Err(Error::NotCommitted(why.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use sqlx::Connection;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;
    use std::time::Duration;

    /// A database file with a table of numbers and one whose rows must point at a
    /// number, checked only at COMMIT (a deferred foreign key: the way to make a
    /// commit fail).
    async fn database() -> (tempfile::TempDir, SqlitePool, String) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("writes.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePool::connect_with(options).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE numbers (n INTEGER PRIMARY KEY); \
             CREATE TABLE pointers (n INTEGER REFERENCES numbers (n) \
                 DEFERRABLE INITIALLY DEFERRED)",
        )
        .execute(&pool)
        .await
        .unwrap();
        (dir, pool, url)
    }

    fn insert(n: i64) -> (Job, oneshot::Receiver<Result<i64>>) {
        job_with_answer(move |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO numbers (n) VALUES ($1)")
                    .bind(n)
                    .execute(&mut *conn)
                    .await?;
                Ok(n)
            })
        })
    }

    /// Writes a row, then fails: the row must not survive.
    fn insert_then_fail(n: i64) -> (Job, oneshot::Receiver<Result<i64>>) {
        job_with_answer(move |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO numbers (n) VALUES ($1)")
                    .bind(n)
                    .execute(&mut *conn)
                    .await?;
                Err(Error::Invalid(format!("job {n} changed its mind")))
            })
        })
    }

    async fn numbers(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM numbers ORDER BY n")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_failing_job_is_rolled_back_alone_and_the_others_of_its_batch_commit() {
        let (_dir, pool, _) = database().await;
        let (one, one_answer) = insert(1);
        let (two, two_answer) = insert_then_fail(2);
        let (three, three_answer) = insert(3);
        // The same number twice: the second fails on the primary key, after the first
        // one's savepoint was released.
        let (again, again_answer) = insert(1);
        let mut batch = vec![one, two, three, again];
        commit_batch(&pool, &mut batch).await;
        assert_eq!(one_answer.await.unwrap().unwrap(), 1);
        assert!(matches!(two_answer.await.unwrap(), Err(Error::Invalid(_))));
        assert_eq!(three_answer.await.unwrap().unwrap(), 3);
        assert!(matches!(
            again_answer.await.unwrap(),
            Err(Error::Database(_))
        ));
        assert_eq!(numbers(&pool).await, vec![1, 3]);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_job_of_the_batch_and_keeps_nothing() {
        let (_dir, pool, _) = database().await;
        let (one, one_answer) = insert(1);
        let (dangling, dangling_answer) = job_with_answer(|conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO pointers (n) VALUES (99)")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        });
        let mut batch = vec![one, dangling];
        commit_batch(&pool, &mut batch).await;
        assert!(matches!(
            one_answer.await.unwrap(),
            Err(Error::NotCommitted(_))
        ));
        assert!(matches!(
            dangling_answer.await.unwrap(),
            Err(Error::NotCommitted(_))
        ));
        assert!(numbers(&pool).await.is_empty());
        // The writer's next batch starts clean.
        let (two, two_answer) = insert(2);
        let mut batch = vec![two];
        commit_batch(&pool, &mut batch).await;
        assert_eq!(two_answer.await.unwrap().unwrap(), 2);
        assert_eq!(numbers(&pool).await, vec![2]);
    }

    #[tokio::test]
    async fn concurrent_writes_all_commit_through_the_writer() {
        let (_dir, pool, _) = database().await;
        let writes = Arc::new(GroupCommit::start(pool.clone(), Arc::new(Mutex::new(()))));
        let mut tasks = Vec::new();
        for n in 0..200_i64 {
            let writes = Arc::clone(&writes);
            tasks.push(tokio::spawn(async move {
                writes
                    .write(move |conn| {
                        Box::pin(async move {
                            sqlx::query("INSERT INTO numbers (n) VALUES ($1)")
                                .bind(n)
                                .execute(&mut *conn)
                                .await?;
                            if n % 10 == 7 {
                                return Err(Error::Invalid("unlucky".to_owned()));
                            }
                            Ok(n)
                        })
                    })
                    .await
            }));
        }
        let mut committed = Vec::new();
        for task in tasks {
            if let Ok(n) = task.await.unwrap() {
                // Answered only after the commit: the row is visible to any reader now.
                let seen: Option<i64> = sqlx::query_scalar("SELECT n FROM numbers WHERE n = $1")
                    .bind(n)
                    .fetch_optional(&pool)
                    .await
                    .unwrap();
                assert_eq!(seen, Some(n));
                committed.push(n);
            }
        }
        let expected: Vec<i64> = (0..200).filter(|n| n % 10 != 7).collect();
        assert_eq!(committed, expected);
        assert_eq!(numbers(&pool).await, expected);
    }

    #[tokio::test]
    async fn a_writer_in_another_connection_is_waited_for() {
        let (_dir, pool, url) = database().await;
        let writes = GroupCommit::start(pool.clone(), Arc::new(Mutex::new(())));
        // Another process (the CLI) holds the write lock.
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN IMMEDIATE; INSERT INTO numbers (n) VALUES (1)")
            .execute(&mut other)
            .await
            .unwrap();
        let pending = tokio::spawn(async move {
            writes
                .write(|conn| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO numbers (n) VALUES (2)")
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !pending.is_finished(),
            "not answered while the other writer holds the lock"
        );
        sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
        pending.await.unwrap().unwrap();
        assert_eq!(numbers(&pool).await, vec![1, 2]);
    }
}
