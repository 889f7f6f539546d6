-- pgkeel supabase bootstrap: pgkeel's own bookkeeping. `bootstrap` records each bootstrap
-- version applied (its presence marks the database as bootstrapped by pgkeel, not Supabase);
-- `register_standin` records a stand-in extension in pg_extension (see standins.sql).
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

-- Record extension `ext` as installed in schema `ns` at `version` (suffixed `-pgkeel-standin`),
-- and make the objects in `member_schemas` (only those named in `member_names`, when given) its members, so `CREATE EXTENSION IF NOT EXISTS ext`
-- answers "already exists, skipping" and `DROP EXTENSION ext` removes the stand-in. Needs a
-- superuser (it writes pg_extension and pg_depend).
CREATE OR REPLACE FUNCTION pgkeel_supabase.register_standin(ext name, ns name, version text, member_schemas name[], member_names name[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    ext_oid oid;
BEGIN
    SELECT oid INTO ext_oid FROM pg_extension WHERE extname = ext;
    IF ext_oid IS NULL THEN
        ext_oid := pg_nextoid('pg_catalog.pg_extension', 'oid', 'pg_catalog.pg_extension_oid_index');
        INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion, extconfig, extcondition)
        VALUES (ext_oid, ext, (SELECT oid FROM pg_roles WHERE rolname = current_user),
                (SELECT oid FROM pg_namespace WHERE nspname = ns), false, version || '-pgkeel-standin', NULL, NULL);
        EXECUTE format('COMMENT ON EXTENSION %I IS %L', ext,
                       'pgkeel stand-in for ' || ext || ': same SQL interface, no side effects (see pgkeel docs/TOOLS.md)');
    ELSIF (SELECT extversion FROM pg_extension WHERE oid = ext_oid) NOT LIKE '%-pgkeel-standin' THEN
        RETURN; -- the real extension is installed: leave it alone
    END IF;
    INSERT INTO pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
    SELECT 'pg_proc'::regclass, p.oid, 0, 'pg_extension'::regclass, ext_oid, 0, 'e'
      FROM pg_proc p
     WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (member_schemas))
       AND (member_names IS NULL OR p.proname = ANY (member_names))
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'pg_class'::regclass, c.oid, 0, 'pg_extension'::regclass, ext_oid, 0, 'e'
      FROM pg_class c
     WHERE c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (member_schemas))
       AND c.relkind IN ('r', 'v', 'm')
       AND (member_names IS NULL OR c.relname = ANY (member_names))
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid, 0, 'pg_extension'::regclass, ext_oid, 0, 'e'
      FROM pg_type t
     WHERE t.typnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (member_schemas))
       AND t.typtype = 'c'
       AND (member_names IS NULL OR t.typname = ANY (member_names))
       AND EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e');
END
$fn$;
REVOKE ALL ON FUNCTION pgkeel_supabase.register_standin(name, name, text, name[], name[]) FROM PUBLIC;
