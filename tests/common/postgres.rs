//! A fresh PostgreSQL schema per test, for the suites that run against a real database.

use std::io::Write;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// A fresh schema in the database `SCRIBE_TEST_POSTGRES_URL` names, so tests running at once
/// (here or in another checkout) never see each other's rows. Dropped with the guard.
pub struct Schema {
    name: String,
    base_url: String,
    /// The base URL with `search_path` set to this schema: the store migrates into it.
    pub url: String,
}

impl Schema {
    /// `None`, after saying that `what` is not run, when no PostgreSQL is configured.
    pub async fn create(what: &str) -> Option<Schema> {
        let Some(base_url) = std::env::var("SCRIBE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            // Straight to stderr: the test harness swallows `eprintln!` from passing tests, and
            // a skipped backend must not pass unnoticed.
            std::io::stderr()
                .write_all(
                    format!("SKIPPED: SCRIBE_TEST_POSTGRES_URL is not set; {what} not run\n")
                        .as_bytes(),
                )
                .unwrap();
            return None;
        };
        let name = format!("scribe_test_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::connect(&base_url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut url = url::Url::parse(&base_url).unwrap();
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={name}"));
        Some(Schema {
            name,
            base_url,
            url: url.into(),
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base_url, name) = (self.base_url.clone(), self.name.clone());
        // Drop cannot await, and blocking on the test's own runtime panics: a thread with a
        // runtime of its own can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&base_url).await.unwrap();
                sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            })
        })
        .join();
        if dropped.is_err() {
            eprintln!("warning: test schema {} was not dropped", self.name);
        }
    }
}
