//! The extensions Supabase's hosted platform offers (PostgreSQL 15 images), as one table: what
//! pgkeel does with each in Supabase mode (pure).
//!
//! - [`Kind::Contrib`]: ships with PostgreSQL (the contrib package). Always the real extension;
//!   pgkeel leaves the statement alone.
//! - [`Kind::Functions`]: when the server does not have it, a stand-in that creates a callable
//!   subset of the real API (tables, types, functions) with no effect outside the database.
//! - [`Kind::NameOnly`]: when the server does not have it, a stand-in that only registers the
//!   name, so `CREATE EXTENSION`, `DROP EXTENSION … CASCADE` and `CREATE EXTENSION` again work;
//!   its types, functions and index methods do not exist.
//!
//! The bootstrap writes this table to `pgkeel_supabase.catalogue`; the function
//! `pgkeel_supabase.create_extension` (sql/create_extension.sql) reads it when a migration's
//! `CREATE EXTENSION` is sent through it (see [`super::rewrite`]). docs/TOOLS.md lists the same
//! table (a unit test keeps the two in step).

use crate::db::literal;

/// What pgkeel provides for an extension the server does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contrib,
    Functions,
    NameOnly,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contrib => "contrib",
            Kind::Functions => "functions",
            Kind::NameOnly => "name-only",
        }
    }
}

/// One extension of Supabase's list.
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    pub name: &'static str,
    pub kind: Kind,
    /// The schema its control file fixes (`schema = …`): `WITH SCHEMA` must name it, and it is
    /// created when missing. `None`: relocatable to any existing schema.
    pub fixed_schema: Option<&'static str>,
    /// The version a stand-in records (suffixed `-pgkeel-standin`).
    pub version: &'static str,
    /// Extensions it requires (installed first with CASCADE, otherwise an error, as on
    /// PostgreSQL).
    pub requires: &'static [&'static str],
    /// Installed by the bootstrap in Supabase's schema, as every Supabase database has it.
    pub preinstalled: bool,
    /// The Debian/Ubuntu (PGDG) package that provides the real one for PostgreSQL 15, if any.
    pub package: Option<&'static str>,
    /// The stand-in's script (`@extschema@` and `@extschema:NAME@` as in real extension
    /// scripts); empty for name-only ones and contrib.
    pub script: &'static str,
    pub notes: &'static str,
}

impl Extension {
    /// Where Supabase's dashboard puts it: the fixed schema, or `extensions`.
    pub fn supabase_schema(&self) -> &'static str {
        self.fixed_schema.unwrap_or("extensions")
    }

    /// Whether pgkeel sends `CREATE EXTENSION` for it through the catalogue.
    pub fn routed(&self) -> bool {
        self.kind != Kind::Contrib && self.name != "plpgsql"
    }
}

const fn contrib(name: &'static str, preinstalled: bool, notes: &'static str) -> Extension {
    Extension {
        name,
        kind: Kind::Contrib,
        fixed_schema: None,
        version: "",
        requires: &[],
        preinstalled,
        package: Some("postgresql-15 (contrib)"),
        script: "",
        notes,
    }
}

const fn name_only(
    name: &'static str,
    version: &'static str,
    package: Option<&'static str>,
    notes: &'static str,
) -> Extension {
    Extension {
        name,
        kind: Kind::NameOnly,
        fixed_schema: None,
        version,
        requires: &[],
        preinstalled: false,
        package,
        script: "",
        notes,
    }
}

const POSTGIS: Option<&str> = Some("postgresql-15-postgis-3");

/// Supabase's list, alphabetical.
pub const CATALOGUE: &[Extension] = &[
    Extension {
        requires: &[],
        ..name_only("address_standardizer", "3.3.2", POSTGIS, "PostGIS address normaliser; `standardize_address()` does not exist")
    },
    Extension {
        requires: &["address_standardizer"],
        ..name_only("address_standardizer_data_us", "3.3.2", POSTGIS, "US data for address_standardizer; its tables do not exist")
    },
    contrib("amcheck", false, ""),
    contrib("autoinc", false, ""),
    contrib("bloom", false, ""),
    contrib("btree_gin", false, ""),
    contrib("btree_gist", false, ""),
    contrib("citext", false, ""),
    contrib("cube", false, ""),
    contrib("dblink", false, ""),
    contrib("dict_int", false, ""),
    contrib("dict_xsyn", false, ""),
    Extension { requires: &["cube"], ..contrib("earthdistance", false, "") },
    contrib("fuzzystrmatch", false, ""),
    contrib("hstore", false, ""),
    Extension {
        kind: Kind::Functions,
        script: include_str!("sql/standins/http.sql"),
        ..name_only("http", "1.6", Some("postgresql-15-http (PGDG)"), "types http_header, http_response; http_get/http_post/http_delete answer 503 and send nothing")
    },
    name_only("hypopg", "1.4.1", Some("postgresql-15-hypopg"), "hypothetical indexes; `hypopg_create_index()` does not exist"),
    Extension {
        kind: Kind::Functions,
        requires: &["hypopg"],
        script: include_str!("sql/standins/index_advisor.sql"),
        ..name_only("index_advisor", "0.2.0", None, "`index_advisor(query)` returns one row whose `errors` says no advice is available")
    },
    contrib("insert_username", false, ""),
    contrib("intarray", false, ""),
    contrib("isn", false, ""),
    contrib("lo", false, ""),
    contrib("ltree", false, ""),
    contrib("moddatetime", false, ""),
    contrib("pg_buffercache", false, ""),
    Extension {
        kind: Kind::Functions,
        fixed_schema: Some("pg_catalog"),
        script: include_str!("sql/standins/pg_cron.sql"),
        ..name_only("pg_cron", "1.6", Some("postgresql-15-cron (needs shared_preload_libraries)"), "schema cron: job, job_run_details, schedule/schedule_in_database/unschedule/alter_job record jobs that never run")
    },
    Extension {
        kind: Kind::Functions,
        fixed_schema: Some("graphql"),
        preinstalled: true,
        script: include_str!("sql/standins/pg_graphql.sql"),
        ..name_only("pg_graphql", "1.5.11", None, "`graphql.resolve()` answers a GraphQL error (no GraphQL API)")
    },
    Extension {
        kind: Kind::Functions,
        script: include_str!("sql/standins/pg_hashids.sql"),
        ..name_only("pg_hashids", "1.3", None, "id_encode/id_decode/id_decode_once: the Hashids algorithm in PL/pgSQL (same output as the real one)")
    },
    Extension {
        kind: Kind::Functions,
        script: include_str!("sql/standins/pg_jsonschema.sql"),
        ..name_only("pg_jsonschema", "0.3.3", None, "json(b)_matches_schema, jsonschema_is_valid, jsonschema_validation_errors: a partial validator that raises on keywords it does not implement")
    },
    Extension {
        kind: Kind::Functions,
        script: include_str!("sql/standins/pg_net.sql"),
        ..name_only("pg_net", "0.14.0", None, "schema net: http_get/http_post/http_delete queue requests in net.http_request_queue and never send them")
    },
    name_only("pg_partman", "5.1.0", Some("postgresql-15-partman"), "`create_parent()` and its tables do not exist"),
    contrib("pg_prewarm", false, ""),
    name_only("pg_repack", "1.5.0", Some("postgresql-15-repack"), "used by the pg_repack client; nothing to call"),
    name_only("pg_stat_monitor", "2.1", None, "the pg_stat_monitor view does not exist"),
    contrib("pg_stat_statements", true, "collects only with shared_preload_libraries; CREATE works without"),
    contrib("pg_surgery", false, ""),
    Extension {
        fixed_schema: Some("pgtle"),
        ..name_only("pg_tle", "1.4.0", None, "schema pgtle; `pgtle.install_extension()` does not exist")
    },
    contrib("pg_trgm", false, ""),
    contrib("pg_visibility", false, ""),
    contrib("pg_walinspect", false, ""),
    name_only("pgaudit", "1.7", Some("postgresql-15-pgaudit"), "no audit logging (settings such as pgaudit.log are accepted as placeholders)"),
    contrib("pgcrypto", true, ""),
    Extension {
        kind: Kind::Functions,
        requires: &["pgcrypto"],
        preinstalled: true,
        script: include_str!("sql/standins/pgjwt.sql"),
        ..name_only("pgjwt", "0.2.0", None, "sign/verify (HS256/384/512), url_encode/url_decode, algorithm_sign: a working implementation on pgcrypto")
    },
    Extension {
        kind: Kind::Functions,
        fixed_schema: Some("pgmq"),
        script: include_str!("sql/standins/pgmq.sql"),
        ..name_only("pgmq", "1.4.4", None, "pgmq.create/send/read/pop/delete/archive/drop_queue on real tables (pgmq.q_NAME, pgmq.a_NAME)")
    },
    name_only("pgroonga", "3.2.5", None, "the pgroonga index method and operators do not exist"),
    Extension {
        requires: &["pgroonga"],
        ..name_only("pgroonga_database", "3.2.5", None, "")
    },
    Extension {
        requires: &["postgis"],
        ..name_only("pgrouting", "3.4.1", Some("postgresql-15-pgrouting"), "pgr_* functions do not exist")
    },
    contrib("pgrowlocks", false, ""),
    Extension {
        fixed_schema: Some("pgsodium"),
        preinstalled: true,
        ..name_only("pgsodium", "3.1.8", None, "schema pgsodium only; no libsodium functions, no transparent column encryption")
    },
    contrib("pgstattuple", false, ""),
    name_only("pgtap", "1.2.0", Some("postgresql-15-pgtap"), "the test functions do not exist: install the package to run pgTAP tests"),
    Extension {
        package: Some("postgresql-15 (built in)"),
        fixed_schema: Some("pg_catalog"),
        ..contrib("plpgsql", true, "built in")
    },
    name_only("plpgsql_check", "2.7", Some("postgresql-15-plpgsql-check"), "`plpgsql_check_function()` does not exist"),
    Extension {
        fixed_schema: Some("pg_catalog"),
        ..name_only("plv8", "3.1.10", None, "language plv8 does not exist: CREATE FUNCTION … LANGUAGE plv8 fails")
    },
    name_only("postgis", "3.3.2", POSTGIS, "geometry/geography types and ST_* functions do not exist"),
    Extension {
        requires: &["postgis"],
        ..name_only("postgis_raster", "3.3.2", POSTGIS, "the raster type does not exist")
    },
    Extension {
        requires: &["postgis"],
        ..name_only("postgis_sfcgal", "3.3.2", None, "")
    },
    Extension {
        requires: &["postgis", "fuzzystrmatch"],
        ..name_only("postgis_tiger_geocoder", "3.3.2", POSTGIS, "schema tiger does not exist")
    },
    Extension {
        requires: &["postgis"],
        ..name_only("postgis_topology", "3.3.2", POSTGIS, "schema topology does not exist")
    },
    contrib("postgres_fdw", false, ""),
    contrib("refint", false, ""),
    name_only("rum", "1.3", Some("postgresql-15-rum"), "the rum index method does not exist"),
    contrib("seg", false, ""),
    contrib("sslinfo", false, ""),
    Extension {
        kind: Kind::Functions,
        fixed_schema: Some("vault"),
        preinstalled: true,
        script: include_str!("sql/standins/supabase_vault.sql"),
        ..name_only("supabase_vault", "0.3.1", None, "vault.secrets, vault.decrypted_secrets, create_secret/update_secret: secrets stored UNENCRYPTED")
    },
    contrib("tablefunc", false, ""),
    contrib("tcn", false, ""),
    name_only("timescaledb", "2.16.1", None, "hypertables and `create_hypertable()` do not exist"),
    contrib("tsm_system_rows", false, ""),
    contrib("tsm_system_time", false, ""),
    contrib("unaccent", false, ""),
    contrib("uuid-ossp", true, ""),
    name_only("vector", "0.8.0", Some("postgresql-15-pgvector (PGDG)"), "the vector type and its operators do not exist: columns of type vector fail"),
    name_only("wrappers", "0.4.4", None, "no foreign data wrapper handlers: CREATE FOREIGN DATA WRAPPER … HANDLER fails"),
];

/// The catalogue entry named `name`.
pub fn find(name: &str) -> Option<&'static Extension> {
    CATALOGUE.iter().find(|e| e.name == name)
}

/// SQL that (re)writes `pgkeel_supabase.catalogue` from [`CATALOGUE`].
pub fn catalogue_sql() -> String {
    let rows: Vec<String> = CATALOGUE
        .iter()
        .map(|e| {
            let requires: Vec<String> = e.requires.iter().map(|r| literal(r)).collect();
            format!(
                "({}, {}, {}, {}, ARRAY[{}]::text[], {}, {})",
                literal(e.name),
                literal(e.kind.as_str()),
                e.fixed_schema.map_or("NULL".to_string(), literal),
                literal(e.version),
                requires.join(", "),
                e.preinstalled,
                if e.script.is_empty() {
                    "NULL".to_string()
                } else {
                    literal(e.script)
                }
            )
        })
        .collect();
    format!(
        "DELETE FROM pgkeel_supabase.catalogue;\n\
         INSERT INTO pgkeel_supabase.catalogue (name, kind, fixed_schema, version, requires, preinstalled, script) VALUES\n{};\n",
        rows.join(",\n")
    )
}

/// The Markdown table docs/TOOLS.md shows (between its `supabase-extensions` markers).
pub fn docs_table() -> String {
    let mut out = String::from(
        "| extension | without it on the server | Supabase schema | real one from | what the stand-in provides |\n|---|---|---|---|---|\n",
    );
    for e in CATALOGUE {
        let kind = match e.kind {
            Kind::Contrib => "real (contrib)".to_string(),
            k => format!("stand-in: {}", k.as_str()),
        };
        let pre = if e.preinstalled {
            " (preinstalled)"
        } else {
            ""
        };
        out.push_str(&format!(
            "| `{}`{pre} | {kind} | `{}` | {} | {} |\n",
            e.name,
            e.supabase_schema(),
            e.package.unwrap_or("-"),
            if e.notes.is_empty() { "-" } else { e.notes }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_unique_and_consistent() {
        let names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "alphabetical, no duplicates");
        for e in CATALOGUE {
            for r in e.requires {
                assert!(find(r).is_some(), "{} requires unknown {r}", e.name);
            }
            match e.kind {
                Kind::Functions => assert!(!e.script.trim().is_empty(), "{}", e.name),
                Kind::NameOnly | Kind::Contrib => assert!(e.script.is_empty(), "{}", e.name),
            }
            if e.kind != Kind::Contrib {
                assert!(!e.version.is_empty(), "{}", e.name);
                assert!(
                    !e.script.contains("OR REPLACE"),
                    "{}: stand-in scripts create, as extension scripts do",
                    e.name
                );
            }
        }
        // What the issue names, and Supabase's defaults.
        for n in [
            "pg_net",
            "pg_cron",
            "pgsodium",
            "supabase_vault",
            "pg_graphql",
            "pg_jsonschema",
            "hypopg",
            "index_advisor",
            "pg_stat_statements",
            "pgaudit",
            "plpgsql_check",
            "pgjwt",
            "http",
            "wrappers",
            "pg_hashids",
            "vector",
            "postgis",
            "timescaledb",
            "rum",
            "pgroonga",
            "pgtap",
            "pgmq",
        ] {
            assert!(find(n).is_some(), "{n}");
        }
        let pre: Vec<&str> = CATALOGUE
            .iter()
            .filter(|e| e.preinstalled)
            .map(|e| e.name)
            .collect();
        assert_eq!(
            pre,
            [
                "pg_graphql",
                "pg_stat_statements",
                "pgcrypto",
                "pgjwt",
                "pgsodium",
                "plpgsql",
                "supabase_vault",
                "uuid-ossp"
            ]
        );
        assert!(!find("plpgsql").is_some_and(|e| e.routed()));
        assert!(find("vector").is_some_and(|e| e.routed()));
    }

    #[test]
    fn catalogue_sql_quotes_scripts() {
        let sql = catalogue_sql();
        assert!(sql.contains(
            "(E'pgjwt', E'functions', NULL, E'0.2.0', ARRAY[E'pgcrypto']::text[], true, E'"
        ));
        assert!(
            sql.contains("(E'vector', E'name-only', NULL, E'0.8.0', ARRAY[]::text[], false, NULL)")
        );
    }

    #[test]
    fn docs_list_the_catalogue() {
        let docs = include_str!("../../../../docs/TOOLS.md");
        let table = docs_table();
        assert!(
            docs.contains(&table),
            "docs/TOOLS.md must contain the generated table between its supabase-extensions markers:\n{table}"
        );
    }
}
