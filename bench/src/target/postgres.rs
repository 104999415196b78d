//! PostgreSQL through tokio-postgres: `usertable(ycsb_key text primary key, doc jsonb)`, one
//! connection per client thread, prepared statements, one-field updates with `jsonb_set`, and
//! range scans with `ORDER BY ... LIMIT`.

use serde_json::{Map, Value};
use tokio_postgres::{Client, NoTls, Statement};
use tracing::warn;

use super::{Fields, Row};
use crate::error::BenchError;

const NAME: &str = "postgres";

/// Keys compare byte by byte (collation "C"), as ShinyDB's string `_id`s do, whatever the
/// cluster's locale.
const SCHEMA: &str = "DROP TABLE IF EXISTS usertable; \
    CREATE TABLE usertable (ycsb_key text COLLATE \"C\" PRIMARY KEY, doc jsonb NOT NULL)";

fn err(op: &'static str, e: &tokio_postgres::Error) -> BenchError {
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    BenchError::Operation {
        target: NAME,
        op,
        message,
    }
}

async fn connect(conninfo: &str) -> Result<Client, BenchError> {
    let (client, connection) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .map_err(|e| BenchError::Connect {
            target: NAME,
            message: format!("{conninfo}: {e}"),
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            warn!(error = %e, "postgres connection ended");
        }
    });
    Ok(client)
}

/// Drops and creates `usertable`.
pub async fn create_table(conninfo: &str) -> Result<(), BenchError> {
    let c = connect(conninfo).await?;
    c.batch_execute(SCHEMA)
        .await
        .map_err(|e| err("create table", &e))
}

/// One client thread's connection with its prepared statements.
pub struct PgSession {
    client: Client,
    read: Statement,
    update: Statement,
    insert: Statement,
    load: Statement,
    scan: Statement,
}

fn doc_of(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<String, Value>>(),
    )
}

fn fields_of(key: &str, doc: Value) -> Result<Fields, BenchError> {
    let Value::Object(map) = doc else {
        return Err(BenchError::Operation {
            target: NAME,
            op: "read",
            message: format!("the doc of {key} is not a JSON object"),
        });
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(BenchError::Operation {
                target: NAME,
                op: "read",
                message: format!("field {k} of {key} is not a string: {other}"),
            }),
        })
        .collect()
}

impl PgSession {
    /// Connects and prepares; `synchronous_commit` is set for this session (`on`: every commit
    /// waits for its WAL flush; `off`: the WAL writer flushes within a few hundred ms).
    pub async fn open(conninfo: &str, synchronous_commit: bool) -> Result<PgSession, BenchError> {
        let client = connect(conninfo).await?;
        let sc = if synchronous_commit { "on" } else { "off" };
        client
            .batch_execute(&format!("SET synchronous_commit = {sc}"))
            .await
            .map_err(|e| err("set synchronous_commit", &e))?;
        let prep = |sql: &'static str| {
            let c = &client;
            async move { c.prepare(sql).await.map_err(|e| err("prepare", &e)) }
        };
        Ok(PgSession {
            read: prep("SELECT doc FROM usertable WHERE ycsb_key = $1").await?,
            update: prep(
                "UPDATE usertable SET doc = jsonb_set(doc, $2::text[], $3::jsonb) \
                 WHERE ycsb_key = $1",
            )
            .await?,
            insert: prep("INSERT INTO usertable (ycsb_key, doc) VALUES ($1, $2)").await?,
            load: prep(
                "INSERT INTO usertable (ycsb_key, doc) \
                 SELECT * FROM unnest($1::text[], $2::jsonb[])",
            )
            .await?,
            scan: prep(
                "SELECT ycsb_key, doc FROM usertable WHERE ycsb_key >= $1 \
                 ORDER BY ycsb_key LIMIT $2",
            )
            .await?,
            client,
        })
    }

    /// Reads a whole record.
    pub async fn read(&mut self, key: &str) -> Result<Option<Fields>, BenchError> {
        let row = self
            .client
            .query_opt(&self.read, &[&key])
            .await
            .map_err(|e| err("read", &e))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let doc: Value = r.try_get(0).map_err(|e| err("read", &e))?;
                fields_of(key, doc).map(Some)
            }
        }
    }

    /// Sets one field; false when no record has the key.
    pub async fn update(
        &mut self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, BenchError> {
        let path = vec![field];
        let v = Value::String(value.into());
        let n = self
            .client
            .execute(&self.update, &[&key, &path, &v])
            .await
            .map_err(|e| err("update", &e))?;
        Ok(n == 1)
    }

    /// Inserts one record.
    pub async fn insert(&mut self, key: &str, fields: &Fields) -> Result<(), BenchError> {
        self.client
            .execute(&self.insert, &[&key, &doc_of(fields)])
            .await
            .map_err(|e| err("insert", &e))?;
        Ok(())
    }

    /// Inserts many records in one statement (loading).
    pub async fn insert_many(&mut self, rows: &[Row]) -> Result<(), BenchError> {
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        let docs: Vec<Value> = rows.iter().map(|(_, f)| doc_of(f)).collect();
        self.client
            .execute(&self.load, &[&keys, &docs])
            .await
            .map_err(|e| err("load", &e))?;
        Ok(())
    }

    /// Up to `len` records from `start` on, in key order.
    pub async fn scan(&mut self, start: &str, len: usize) -> Result<Vec<Row>, BenchError> {
        let limit = i64::try_from(len).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(&self.scan, &[&start, &limit])
            .await
            .map_err(|e| err("scan", &e))?;
        rows.into_iter()
            .map(|r| {
                let key: String = r.try_get(0).map_err(|e| err("scan", &e))?;
                let doc: Value = r.try_get(1).map_err(|e| err("scan", &e))?;
                let f = fields_of(&key, doc)?;
                Ok((key, f))
            })
            .collect()
    }
}
