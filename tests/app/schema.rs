//! The two migration directories mean the same thing: the database itself
//! enforces the same rules on SQLite and PostgreSQL, and after migrating,
//! both have the same tables, columns, keys and indexes.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Backend, TestApp};
use sqlx::{AnyPool, Row};

backend_tests!(
    usernames_are_unique_in_any_case_in_the_database,
    username_length_is_checked_by_the_database,
    ids_are_never_reused,
    attempts_without_a_client_key_or_device_store_empty_text,
);

postgres_tests!(both_backends_have_the_same_schema);

/// Inserts a user row directly, past every check the app makes.
async fn insert_user(pool: &AnyPool, username: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO users (username, password_hash, created_at) VALUES ($1, 'x', 0) RETURNING id",
    )
    .bind(username)
    .fetch_one(pool)
    .await?;
    row.try_get("id")
}

fn is_unique_violation(result: &Result<i64, sqlx::Error>) -> bool {
    matches!(result, Err(sqlx::Error::Database(e)) if e.is_unique_violation())
}

fn is_check_violation(result: &Result<i64, sqlx::Error>) -> bool {
    matches!(result, Err(sqlx::Error::Database(e)) if e.is_check_violation())
}

async fn usernames_are_unique_in_any_case_in_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert!(insert_user(app.pool(), "ada.Lovelace").await.is_ok());
    for twin in ["ada.Lovelace", "ADA.LOVELACE", "ada.lovelace"] {
        let again = insert_user(app.pool(), twin).await;
        assert!(is_unique_violation(&again), "{twin}: {again:?}");
    }
    assert!(insert_user(app.pool(), "ada.lovelace2").await.is_ok());
}

async fn username_length_is_checked_by_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in ["ab", &"x".repeat(33)] {
        let result = insert_user(app.pool(), bad).await;
        assert!(is_check_violation(&result), "{bad}: {result:?}");
    }
    for good in ["abc", &"x".repeat(32)] {
        assert!(insert_user(app.pool(), good).await.is_ok(), "{good}");
    }
}

/// A cookie names a user by id, so a deleted account's id must never come
/// to name a newer one.
async fn ids_are_never_reused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = insert_user(app.pool(), "first").await.expect("insert");
    let second = insert_user(app.pool(), "second").await.expect("insert");
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(second)
        .execute(app.pool())
        .await
        .expect("delete");
    let third = insert_user(app.pool(), "third").await.expect("insert");
    assert!(first < second && second < third, "{first} {second} {third}");
}

/// 0003 adds `client_key` and `device` as NOT NULL with '' for "none", on
/// both backends: throttling compares them with '' and never meets a NULL.
async fn attempts_without_a_client_key_or_device_store_empty_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Recorded "now": a row from 1970 would race the retention task's prune
    // at launch.
    sqlx::query(
        "INSERT INTO wristband_login_attempts (login_key, outcome, at) VALUES ('ada', 'logout', $1)",
    )
    .bind(crate::common::T0)
    .execute(app.pool())
    .await
    .expect("insert");
    let row = sqlx::query("SELECT client_key, device FROM wristband_login_attempts")
        .fetch_one(app.pool())
        .await
        .expect("select");
    assert_eq!(text(&row, "client_key"), "");
    assert_eq!(text(&row, "device"), "");
    let refused = sqlx::query(
        "INSERT INTO wristband_login_attempts (login_key, outcome, at, device) VALUES ('ada', 'logout', 1, NULL)",
    )
    .execute(app.pool())
    .await;
    assert!(refused.is_err(), "device is NOT NULL");
}

/// What the migrations built, in terms both dialects share.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// (table, column) -> (type class, NOT NULL)
    columns: BTreeMap<(String, String), (String, bool)>,
    /// (table, "primary key" or "unique", columns)
    keys: BTreeSet<(String, &'static str, Vec<String>)>,
    /// (table, index, unique) for indexes made with CREATE INDEX
    indexes: BTreeSet<(String, String, bool)>,
    /// (table, column, referenced table, referenced column, ON DELETE)
    foreign_keys: BTreeSet<(String, String, String, String, String)>,
}

/// The kind of value a declared column type holds, ignoring width:
/// SQLite's INTEGER primary key and PostgreSQL's BIGINT are both integers.
fn type_class(declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    let class = if declared.contains("int") {
        "integer"
    } else if declared.contains("char") || declared.contains("text") {
        "text"
    } else if declared.contains("bool") {
        "boolean"
    } else if declared.contains("real") || declared.contains("double") || declared.contains("float")
    {
        "real"
    } else if declared.contains("blob") || declared.contains("bytea") {
        "bytes"
    } else {
        // Anything else must be spelt the same on both sides to compare equal.
        return declared;
    };
    class.to_string()
}

fn text(row: &sqlx::any::AnyRow, column: &str) -> String {
    row.try_get(column)
        .unwrap_or_else(|e| panic!("{column}: {e}"))
}

fn int(row: &sqlx::any::AnyRow, column: &str) -> i64 {
    row.try_get(column)
        .unwrap_or_else(|e| panic!("{column}: {e}"))
}

async fn rows(pool: &AnyPool, sql: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Groups (table, constraint, kind, column) rows into keys.
fn keys_from(
    rows: Vec<(String, String, &'static str, String)>,
) -> BTreeSet<(String, &'static str, Vec<String>)> {
    let mut grouped: BTreeMap<(String, String, &'static str), Vec<String>> = BTreeMap::new();
    for (table, name, kind, column) in rows {
        grouped.entry((table, name, kind)).or_default().push(column);
    }
    grouped
        .into_iter()
        .map(|((table, _, kind), mut columns)| {
            columns.sort();
            (table, kind, columns)
        })
        .collect()
}

async fn sqlite_schema(pool: &AnyPool) -> Schema {
    // sqlx's bookkeeping and SQLite's own AUTOINCREMENT table are not ours.
    const OURS: &str =
        "m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'";
    let mut schema = Schema::default();
    let mut primary = Vec::new();
    for row in rows(
        pool,
        &format!(
            r#"SELECT m.name AS tbl, p.name AS col, p.type AS type, p."notnull" AS not_null, p.pk AS pk
               FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE {OURS}"#
        ),
    )
    .await
    {
        let (table, column) = (text(&row, "tbl"), text(&row, "col"));
        let pk = int(&row, "pk") > 0;
        // A primary key column is NOT NULL even where SQLite's pragma says 0.
        let not_null = int(&row, "not_null") != 0 || pk;
        if pk {
            primary.push((table.clone(), "pk".to_string(), "primary key", column.clone()));
        }
        schema.columns.insert((table, column), (type_class(&text(&row, "type")), not_null));
    }
    let mut unique = Vec::new();
    for row in rows(
        pool,
        &format!(
            r#"SELECT m.name AS tbl, il.name AS idx, ii.name AS col
               FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii
               WHERE {OURS} AND il.origin = 'u'"#
        ),
    )
    .await
    {
        unique.push((text(&row, "tbl"), text(&row, "idx"), "unique", text(&row, "col")));
    }
    schema.keys = keys_from(primary.into_iter().chain(unique).collect());
    for row in rows(
        pool,
        &format!(
            r#"SELECT m.name AS tbl, il.name AS idx, il."unique" AS uniq
               FROM sqlite_master m JOIN pragma_index_list(m.name) il
               WHERE {OURS} AND il.origin = 'c'"#
        ),
    )
    .await
    {
        schema
            .indexes
            .insert((text(&row, "tbl"), text(&row, "idx"), int(&row, "uniq") != 0));
    }
    for row in rows(
        pool,
        &format!(
            r#"SELECT m.name AS tbl, f."from" AS col, f."table" AS ref_tbl,
                      COALESCE(f."to", '') AS ref_col, f.on_delete AS on_delete
               FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE {OURS}"#
        ),
    )
    .await
    {
        let ref_table = text(&row, "ref_tbl");
        let mut ref_column = text(&row, "ref_col");
        if ref_column.is_empty() {
            // `REFERENCES t` without a column means t's primary key.
            ref_column = schema
                .keys
                .iter()
                .find(|(table, kind, _)| *table == ref_table && *kind == "primary key")
                .map(|(_, _, columns)| columns.join(","))
                .unwrap_or_default();
        }
        schema.foreign_keys.insert((
            text(&row, "tbl"),
            text(&row, "col"),
            ref_table,
            ref_column,
            text(&row, "on_delete"),
        ));
    }
    schema
}

async fn postgres_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::default();
    for row in rows(
        pool,
        "SELECT table_name::text AS tbl, column_name::text AS col, data_type::text AS type,
                CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END::bigint AS not_null
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .await
    {
        schema.columns.insert(
            (text(&row, "tbl"), text(&row, "col")),
            (type_class(&text(&row, "type")), int(&row, "not_null") != 0),
        );
    }
    let mut keys = Vec::new();
    for row in rows(
        pool,
        "SELECT c.conrelid::regclass::text AS tbl, c.conname::text AS name, c.contype::text AS kind,
                a.attname::text AS col
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.contype IN ('p', 'u') AND c.connamespace = 'public'::regnamespace
           AND c.conrelid::regclass::text <> '_sqlx_migrations'",
    )
    .await
    {
        let kind = if text(&row, "kind") == "p" { "primary key" } else { "unique" };
        keys.push((text(&row, "tbl"), text(&row, "name"), kind, text(&row, "col")));
    }
    schema.keys = keys_from(keys);
    for row in rows(
        pool,
        "SELECT t.relname::text AS tbl, i.relname::text AS idx,
                CASE WHEN x.indisunique THEN 1 ELSE 0 END::bigint AS uniq
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         WHERE t.relnamespace = 'public'::regnamespace AND t.relname <> '_sqlx_migrations'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                           WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))",
    )
    .await
    {
        schema
            .indexes
            .insert((text(&row, "tbl"), text(&row, "idx"), int(&row, "uniq") != 0));
    }
    for row in rows(
        pool,
        "SELECT c.conrelid::regclass::text AS tbl, a.attname::text AS col,
                c.confrelid::regclass::text AS ref_tbl, af.attname::text AS ref_col,
                CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                     WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END AS on_delete
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
         WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace",
    )
    .await
    {
        schema.foreign_keys.insert((
            text(&row, "tbl"),
            text(&row, "col"),
            text(&row, "ref_tbl"),
            text(&row, "ref_col"),
            text(&row, "on_delete"),
        ));
    }
    schema
}

/// Each migration must exist in both dialects and build the same thing, so
/// a deployment can move from SQLite to PostgreSQL without surprises.
async fn both_backends_have_the_same_schema() {
    let sqlite = TestApp::spawn(Backend::Sqlite).await;
    let postgres = TestApp::spawn(Backend::Postgres).await;
    let (on_sqlite, on_postgres) = (
        sqlite_schema(sqlite.pool()).await,
        postgres_schema(postgres.pool()).await,
    );
    assert!(
        on_sqlite
            .columns
            .contains_key(&("users".to_string(), "username".to_string())),
        "the schema was read: {on_sqlite:#?}"
    );
    assert!(
        on_postgres.indexes.contains(&(
            "users".to_string(),
            "users_username_lower".to_string(),
            true
        )),
        "{on_postgres:#?}"
    );
    assert!(
        on_sqlite
            .keys
            .contains(&("users".to_string(), "primary key", vec!["id".to_string()])),
        "{on_sqlite:#?}"
    );
    // The library's tables: what throttling counts by, the per-address
    // registrations, and the registry's lookups.
    for (table, index) in [
        (
            "wristband_login_attempts",
            "wristband_login_attempts_client_key_at",
        ),
        (
            "wristband_login_attempts",
            "wristband_login_attempts_device_at",
        ),
        (
            "wristband_registrations",
            "wristband_registrations_client_key_at",
        ),
        ("wristband_registrations", "wristband_registrations_at"),
        ("wristband_sessions", "wristband_sessions_user"),
        ("wristband_sessions", "wristband_sessions_expires"),
    ] {
        assert!(
            on_sqlite
                .indexes
                .contains(&(table.to_string(), index.to_string(), false)),
            "{index}: {on_sqlite:#?}"
        );
    }
    assert!(
        !on_sqlite
            .indexes
            .iter()
            .any(|(table, _, _)| table == "sessions" || table == "login_attempts"),
        "the app's old copies of the library's tables are gone"
    );
    assert_eq!(on_sqlite.columns, on_postgres.columns, "columns");
    assert_eq!(
        on_sqlite.keys, on_postgres.keys,
        "primary keys and unique constraints"
    );
    assert_eq!(on_sqlite.indexes, on_postgres.indexes, "indexes");
    assert_eq!(
        on_sqlite.foreign_keys, on_postgres.foreign_keys,
        "foreign keys"
    );

    let migrations = "SELECT version, description FROM _sqlx_migrations ORDER BY version";
    let versions = |rows: Vec<sqlx::any::AnyRow>| -> Vec<(i64, String)> {
        rows.iter()
            .map(|r| (int(r, "version"), text(r, "description")))
            .collect()
    };
    assert_eq!(
        versions(rows(sqlite.pool(), migrations).await),
        versions(rows(postgres.pool(), migrations).await),
        "the same migrations, in the same order"
    );
}
