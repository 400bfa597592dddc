//! One statement, two dialects. Repositories write each statement once, with `?` placeholders, and bind
//! values in the store's own terms (`Arg`: text, integer, id, instant, flag, JSON, bytes); each backend
//! stores a value in its own type. SQLite keeps ids as text, instants as Unix seconds, flags as 0/1 and
//! JSON as text (as rondo always has); PostgreSQL keeps them as `uuid`, `timestamptz`, `boolean` and
//! `jsonb`, so the database reads well in `psql`. Rows are read back the same way (`Row`). The few places
//! where the dialects' SQL differs ask `Backend`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Column, Postgres, Row as _, Sqlite, Transaction, TypeInfo};
use uuid::Uuid;

use super::{from_secs, to_secs, StoreError, StoreResult};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `col` (an instant column) as Unix seconds, for SQL that must read an instant as a number.
    pub(crate) fn epoch(self, col: &str) -> String {
        match self {
            Backend::Sqlite => col.to_owned(),
            Backend::Postgres => format!("CAST(EXTRACT(EPOCH FROM {col}) AS BIGINT)"),
        }
    }

    /// The text at `path` inside the JSON column `col` (`data`, ["agent", "id"]).
    pub(crate) fn json_text(self, col: &str, path: &[&str]) -> String {
        match self {
            Backend::Sqlite => format!("json_extract({col}, '$.{}')", path.join(".")),
            Backend::Postgres => format!("({col} #>> '{{{}}}')", path.join(",")),
        }
    }

    /// The larger of two numbers (SQLite's two-argument `MAX`, PostgreSQL's `GREATEST`).
    pub(crate) fn greatest(self, a: &str, b: &str) -> String {
        match self {
            Backend::Sqlite => format!("MAX({a}, {b})"),
            Backend::Postgres => format!("GREATEST({a}, {b})"),
        }
    }

    /// What locks the rows a `SELECT` reads for the rest of the transaction, skipping rows another
    /// transaction holds (PostgreSQL); SQLite's write transaction already excludes every other writer.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// What locks the rows a `SELECT` reads until the transaction ends (PostgreSQL); nothing on SQLite,
    /// whose write transaction holds the whole database.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Id(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Flag(Option<bool>),
    /// JSON text (SQLite stores it as is; PostgreSQL as `jsonb`).
    Json(Option<String>),
    Bytes(Option<Vec<u8>>),
}

macro_rules! arg_from {
    ($variant:ident: $($t:ty => $f:expr),* $(,)?) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(Some(($f)(v)))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(v.map($f))
            }
        }
    )*};
}

arg_from!(Text: String => |v| v, &str => |v: &str| v.to_owned(), &String => |v: &String| v.clone());
arg_from!(Int: i64 => |v| v, i32 => i64::from, u32 => i64::from, u16 => i64::from, u8 => i64::from);
arg_from!(Id: Uuid => |v| v, &Uuid => |v: &Uuid| *v);
arg_from!(Time: DateTime<Utc> => |v| v);
arg_from!(Flag: bool => |v| v);
arg_from!(Bytes: Vec<u8> => |v| v);

/// JSON text to bind (`sql(..).bind(Json(text))`).
pub(crate) struct Json(pub String);

impl From<Json> for Arg {
    fn from(v: Json) -> Arg {
        Arg::Json(Some(v.0))
    }
}

/// Where a statement runs: a pool (outside any transaction) or a write transaction.
pub(crate) enum On<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    Tx(&'a mut Conn),
}

impl<'a> From<&'a mut Conn> for On<'a> {
    fn from(c: &'a mut Conn) -> On<'a> {
        On::Tx(c)
    }
}

/// A write transaction on either backend: what admin use cases hold, and what `Store::write` work runs
/// on. SQLite's group commit runs many callers' work in one, each in a savepoint of its own.
pub enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Conn {
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(tx) => tx.commit().await,
            Conn::Postgres(tx) => tx.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(tx) => tx.rollback().await,
            Conn::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// A statement with its arguments.
#[must_use]
pub(crate) struct Sql {
    text: Cow<'static, str>,
    args: Vec<Arg>,
}

/// A statement written with `?` (or `?N`) placeholders.
pub(crate) fn sql(text: impl Into<Cow<'static, str>>) -> Sql {
    Sql {
        text: text.into(),
        args: Vec::new(),
    }
}

impl Sql {
    pub fn bind(mut self, v: impl Into<Arg>) -> Self {
        self.args.push(v.into());
        self
    }

    /// Binds each of `values` in turn (for an `IN (?, ?, …)` list).
    pub fn bind_all<T: Into<Arg>>(mut self, values: impl IntoIterator<Item = T>) -> Self {
        self.args.extend(values.into_iter().map(Into::into));
        self
    }

    /// How many rows it changed.
    pub async fn execute<'a>(self, on: impl Into<On<'a>>) -> StoreResult<u64> {
        let Sql { text, args } = self;
        Ok(match on.into() {
            On::SqlitePool(p) => sqlite(&text, args).execute(p).await?.rows_affected(),
            On::Tx(Conn::Sqlite(tx)) => sqlite(&text, args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            On::PgPool(p) => {
                let text = placeholders(&text);
                pg(&text, args).execute(p).await?.rows_affected()
            }
            On::Tx(Conn::Postgres(tx)) => {
                let text = placeholders(&text);
                pg(&text, args).execute(&mut **tx).await?.rows_affected()
            }
        })
    }

    pub async fn fetch_all<'a>(self, on: impl Into<On<'a>>) -> StoreResult<Vec<Row>> {
        let Sql { text, args } = self;
        Ok(match on.into() {
            On::SqlitePool(p) => wrap(sqlite(&text, args).fetch_all(p).await?, Row::Sqlite),
            On::Tx(Conn::Sqlite(tx)) => {
                wrap(sqlite(&text, args).fetch_all(&mut **tx).await?, Row::Sqlite)
            }
            On::PgPool(p) => {
                let text = placeholders(&text);
                wrap(pg(&text, args).fetch_all(p).await?, Row::Postgres)
            }
            On::Tx(Conn::Postgres(tx)) => {
                let text = placeholders(&text);
                wrap(pg(&text, args).fetch_all(&mut **tx).await?, Row::Postgres)
            }
        })
    }

    pub async fn fetch_optional<'a>(self, on: impl Into<On<'a>>) -> StoreResult<Option<Row>> {
        let Sql { text, args } = self;
        Ok(match on.into() {
            On::SqlitePool(p) => sqlite(&text, args)
                .fetch_optional(p)
                .await?
                .map(Row::Sqlite),
            On::Tx(Conn::Sqlite(tx)) => sqlite(&text, args)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
            On::PgPool(p) => {
                let text = placeholders(&text);
                pg(&text, args).fetch_optional(p).await?.map(Row::Postgres)
            }
            On::Tx(Conn::Postgres(tx)) => {
                let text = placeholders(&text);
                pg(&text, args)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(Row::Postgres)
            }
        })
    }

    pub async fn fetch_one<'a>(self, on: impl Into<On<'a>>) -> StoreResult<Row> {
        self.fetch_optional(on)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }
}

fn wrap<R>(rows: Vec<R>, f: fn(R) -> Row) -> Vec<Row> {
    rows.into_iter().map(f).collect()
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn sqlite(text: &str, args: Vec<Arg>) -> SqliteQuery<'_> {
    let mut q = sqlx::query(text);
    for a in args {
        q = match a {
            Arg::Text(v) | Arg::Json(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::Id(v) => q.bind(v.map(|u| u.to_string())),
            Arg::Time(v) => q.bind(v.map(to_secs)),
            Arg::Flag(v) => q.bind(v.map(i64::from)),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

fn pg(text: &str, args: Vec<Arg>) -> PgQuery<'_> {
    let mut q = sqlx::query(text);
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::Id(v) => q.bind(v),
            // Whole seconds, as SQLite keeps them: what is written reads back equal on either backend.
            Arg::Time(v) => q.bind(v.map(|t| from_secs(to_secs(t)))),
            Arg::Flag(v) => q.bind(v),
            Arg::Json(v) => q.bind(
                v.map(|t| sqlx::types::Json(serde_json::from_str(&t).unwrap_or_default()))
                    as Option<sqlx::types::Json<serde_json::Value>>,
            ),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

/// PostgreSQL's placeholders for SQLite's: `?` becomes `$1`, `$2`, … in order and `?N` becomes `$N`;
/// quoted text is left alone.
pub(crate) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    n += 1;
                    out.push_str(&n.to_string());
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// A row of either backend, read in the store's terms.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

fn corrupt(col: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{col}: {what}"))
}

impl Row {
    /// The PostgreSQL type of the column `col` (`UUID`, `INT4`, `TIMESTAMPTZ`, …).
    fn pg_type<'r>(r: &'r PgRow, col: &str) -> StoreResult<&'r str> {
        Ok(r.try_column(col)?.type_info().name())
    }

    pub fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => match Self::pg_type(r, col)? {
                "UUID" => r.try_get::<Option<Uuid>, _>(col)?.map(|u| u.to_string()),
                "JSON" | "JSONB" => r
                    .try_get::<Option<serde_json::Value>, _>(col)?
                    .map(|v| v.to_string()),
                _ => r.try_get(col)?,
            },
        })
    }

    pub fn text(&self, col: &str) -> StoreResult<String> {
        self.opt_text(col)?.ok_or_else(|| corrupt(col, "NULL"))
    }

    pub fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => match Self::pg_type(r, col)? {
                "INT2" => r.try_get::<Option<i16>, _>(col)?.map(i64::from),
                "INT4" => r.try_get::<Option<i32>, _>(col)?.map(i64::from),
                "BOOL" => r.try_get::<Option<bool>, _>(col)?.map(i64::from),
                "TIMESTAMPTZ" => r.try_get::<Option<DateTime<Utc>>, _>(col)?.map(to_secs),
                _ => r.try_get(col)?,
            },
        })
    }

    pub fn int(&self, col: &str) -> StoreResult<i64> {
        self.opt_int(col)?.ok_or_else(|| corrupt(col, "NULL"))
    }

    pub fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        if let Row::Postgres(r) = self {
            if Self::pg_type(r, col)? == "UUID" {
                return Ok(r.try_get(col)?);
            }
        }
        self.opt_text(col)?
            .map(|s| Uuid::parse_str(&s).map_err(|_| corrupt(col, s)))
            .transpose()
    }

    pub fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.opt_uuid(col)?.ok_or_else(|| corrupt(col, "NULL"))
    }

    pub fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        if let Row::Postgres(r) = self {
            if Self::pg_type(r, col)? == "TIMESTAMPTZ" {
                return Ok(r.try_get(col)?);
            }
        }
        Ok(self.opt_int(col)?.map(from_secs))
    }

    pub fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(col)?.ok_or_else(|| corrupt(col, "NULL"))
    }

    pub fn opt_flag(&self, col: &str) -> StoreResult<Option<bool>> {
        Ok(self.opt_int(col)?.map(|v| v != 0))
    }

    pub fn flag(&self, col: &str) -> StoreResult<bool> {
        self.opt_flag(col)?.ok_or_else(|| corrupt(col, "NULL"))
    }

    /// A JSON column as text (SQLite keeps the text; PostgreSQL's `jsonb` is written out again).
    pub fn json_text(&self, col: &str) -> StoreResult<String> {
        self.text(col)
    }

    pub fn opt_bytes(&self, col: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.opt_bytes(col)?.ok_or_else(|| corrupt(col, "NULL"))
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_numbered_in_order_and_quoted_text_is_left_alone() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?) AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) AND d = '?'"
        );
        assert_eq!(
            placeholders("INSERT INTO t VALUES (?1, ?2, (SELECT x FROM u WHERE y = ?1))"),
            "INSERT INTO t VALUES ($1, $2, (SELECT x FROM u WHERE y = $1))"
        );
    }
}
