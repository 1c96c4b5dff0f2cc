//! Storage errors. Callers map them to HTTP statuses or CLI messages.

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row already exists (a unique key such as a username or a slug is taken).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request breaks an invariant (e.g. a reply whose parent is under another post).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database URL cannot be used.
    #[error("bad database URL: {0}")]
    BadUrl(String),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database failed or is unreachable; usually transient.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A write was not committed for a reason outside the call itself (the group of
    /// writes it was committed with failed, or the engine's writer stopped); transient.
    #[error("write not committed: {0}")]
    NotCommitted(String),
}

impl Error {
    /// Whether retrying the same call later may succeed (used to answer 5xx vs 4xx).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Database(_) | Error::NotCommitted(_))
    }
}
