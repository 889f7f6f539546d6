-- pgkeel supabase bootstrap: pgkeel's own bookkeeping. `bootstrap` records each bootstrap
-- version applied (its presence marks the database as bootstrapped by pgkeel, not Supabase).
CREATE SCHEMA IF NOT EXISTS pgkeel_supabase;
REVOKE ALL ON SCHEMA pgkeel_supabase FROM PUBLIC;
CREATE TABLE IF NOT EXISTS pgkeel_supabase.bootstrap (
    version    integer     NOT NULL PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text        NOT NULL DEFAULT current_user,
    forced     boolean     NOT NULL DEFAULT false,
    standins   text[]      NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE pgkeel_supabase.bootstrap IS 'pgkeel supabase bootstrap: versions applied to this plain PostgreSQL database';
