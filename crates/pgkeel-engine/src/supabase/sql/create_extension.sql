-- pgkeel supabase bootstrap: CREATE EXTENSION for Supabase's extensions on plain PostgreSQL.
--
-- In Supabase mode pgkeel sends a migration's `CREATE EXTENSION [IF NOT EXISTS] x [WITH]
-- [SCHEMA s] [VERSION v] [CASCADE]` for an extension of the catalogue (non-contrib) as
-- `SELECT pgkeel_supabase.create_extension('x', 's', 'v', cascade, if_not_exists)`. It runs the
-- real CREATE EXTENSION when the server has the extension, and otherwise installs the
-- stand-in: it runs the stand-in's script (if any) with `@extschema@` replaced, then registers
-- the extension in pg_extension and makes every object the script created a member
-- (pg_depend deptype 'e'), so the server's own DROP EXTENSION [CASCADE] removes them and their
-- dependents. PostgreSQL's semantics are kept: an existing extension is an error without IF
-- NOT EXISTS (42710), a missing required extension is an error without CASCADE, WITH SCHEMA
-- must name an existing schema (or the control file's fixed one).
--
-- The setting `pgkeel.force_standins` (a comma-separated list of names, e.g. set with ALTER
-- DATABASE … SET) makes the stand-in win even when the server has the real extension (tests).

CREATE TABLE IF NOT EXISTS pgkeel_supabase.catalogue (
    name         text    NOT NULL PRIMARY KEY,
    kind         text    NOT NULL CHECK (kind IN ('contrib', 'functions', 'name-only')),
    fixed_schema text,
    version      text    NOT NULL,
    requires     text[]  NOT NULL DEFAULT '{}',
    preinstalled boolean NOT NULL DEFAULT false,
    script       text
);
COMMENT ON TABLE pgkeel_supabase.catalogue IS 'pgkeel: Supabase''s extensions and their stand-ins (written by pgkeel supabase bootstrap)';

CREATE OR REPLACE FUNCTION pgkeel_supabase.create_extension(
    ext text, schema_name text DEFAULT NULL, version text DEFAULT NULL,
    cascade boolean DEFAULT false, if_not_exists boolean DEFAULT false
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    c pgkeel_supabase.catalogue%ROWTYPE;
    caller_schema text := pg_catalog.current_schema();
    caller_path text := pg_catalog.current_setting('search_path');
    target text;
    script text;
    req text;
    ext_oid oid;
    forced boolean;
    before_ns oid[];
    before_proc oid[];
    before_class oid[];
    before_type oid[];
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    SELECT * INTO c FROM pgkeel_supabase.catalogue WHERE name = ext;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'extension "%" is not in pgkeel''s Supabase catalogue', ext
            USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT FROM pg_extension WHERE extname = ext) THEN
        PERFORM set_config('search_path', caller_path, true);
        IF if_not_exists THEN
            RAISE NOTICE 'extension "%" already exists, skipping', ext;
            RETURN 'exists';
        END IF;
        RAISE EXCEPTION 'extension "%" already exists', ext USING ERRCODE = 'duplicate_object';
    END IF;

    forced := ext = ANY (string_to_array(replace(coalesce(current_setting('pgkeel.force_standins', true), ''), ' ', ''), ','));
    IF c.kind = 'contrib' OR (NOT forced AND EXISTS (SELECT FROM pg_available_extensions WHERE name = ext)) THEN
        -- The real one (a contrib extension the server lacks fails here with the server's error).
        PERFORM set_config('search_path', caller_path, true);
        EXECUTE format('CREATE EXTENSION %I%s%s%s', ext,
            CASE WHEN schema_name IS NOT NULL THEN format(' SCHEMA %I', schema_name) ELSE '' END,
            CASE WHEN version IS NOT NULL THEN format(' VERSION %L', version) ELSE '' END,
            CASE WHEN cascade THEN ' CASCADE' ELSE '' END);
        RETURN 'real';
    END IF;

    -- The stand-in's schema, as CREATE EXTENSION chooses it.
    IF c.fixed_schema IS NOT NULL THEN
        IF schema_name IS NOT NULL AND schema_name <> c.fixed_schema THEN
            RAISE EXCEPTION 'extension "%" must be installed in schema "%"', ext, c.fixed_schema
                USING ERRCODE = 'feature_not_supported';
        END IF;
        target := c.fixed_schema;
        IF to_regnamespace(quote_ident(target)) IS NULL THEN
            EXECUTE format('CREATE SCHEMA %I', target);
        END IF;
    ELSE
        target := coalesce(schema_name, caller_schema);
        IF target IS NULL THEN
            RAISE EXCEPTION 'no schema has been selected to create in' USING ERRCODE = 'invalid_schema_name';
        END IF;
        IF to_regnamespace(quote_ident(target)) IS NULL THEN
            RAISE EXCEPTION 'schema "%" does not exist', target USING ERRCODE = 'invalid_schema_name';
        END IF;
    END IF;

    FOREACH req IN ARRAY c.requires LOOP
        IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = req) THEN
            IF NOT cascade THEN
                RAISE EXCEPTION 'required extension "%" is not installed', req
                    USING ERRCODE = 'undefined_object',
                          HINT = 'Use CREATE EXTENSION ... CASCADE to install required extensions too.';
            END IF;
            PERFORM set_config('search_path', caller_path, true);
            PERFORM pgkeel_supabase.create_extension(req, schema_name, NULL, true, true);
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
        END IF;
    END LOOP;

    before_ns := ARRAY(SELECT oid FROM pg_namespace);
    before_proc := ARRAY(SELECT oid FROM pg_proc);
    before_class := ARRAY(SELECT oid FROM pg_class);
    before_type := ARRAY(SELECT oid FROM pg_type);

    IF c.script IS NOT NULL THEN
        script := c.script;
        FOREACH req IN ARRAY c.requires LOOP
            script := replace(script, '@extschema:' || req || '@',
                quote_ident((SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = req)));
        END LOOP;
        script := replace(script, '@extschema@', quote_ident(target));
        -- As CREATE EXTENSION does: the target schema first, then pg_catalog.
        PERFORM set_config('search_path', quote_ident(target) || ', pg_catalog', true);
        EXECUTE script;
        PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    END IF;

    ext_oid := pg_nextoid('pg_catalog.pg_extension', 'oid', 'pg_catalog.pg_extension_oid_index');
    INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion, extconfig, extcondition)
    VALUES (ext_oid, ext, (SELECT oid FROM pg_roles WHERE rolname = current_user),
            to_regnamespace(quote_ident(target)), false, coalesce(version, c.version) || '-pgkeel-standin', NULL, NULL);
    -- The extension depends on its schema and on the extensions it requires (as a real one).
    INSERT INTO pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
    SELECT 'pg_extension'::regclass, ext_oid, 0, 'pg_namespace'::regclass, to_regnamespace(quote_ident(target)), 0, 'n'
    UNION ALL
    SELECT 'pg_extension'::regclass, ext_oid, 0, 'pg_extension'::regclass, e.oid, 0, 'n'
      FROM pg_extension e WHERE e.extname = ANY (c.requires);
    -- Members: every object the script created that is not owned by another new object (a
    -- table's row type, an index, a serial column's sequence, an array type go with their owner).
    INSERT INTO pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
    SELECT o.classid, o.objid, 0, 'pg_extension'::regclass, ext_oid, 0, 'e'
      FROM (SELECT 'pg_namespace'::regclass AS classid, oid AS objid FROM pg_namespace WHERE oid NOT IN (SELECT unnest(before_ns))
            UNION ALL
            SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE oid NOT IN (SELECT unnest(before_proc))
            UNION ALL
            SELECT 'pg_class'::regclass, oid FROM pg_class WHERE oid NOT IN (SELECT unnest(before_class)) AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            UNION ALL
            SELECT 'pg_type'::regclass, oid FROM pg_type WHERE oid NOT IN (SELECT unnest(before_type))) o
     WHERE NOT EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype IN ('i', 'a', 'e'));
    EXECUTE format('COMMENT ON EXTENSION %I IS %L', ext,
        format('pgkeel stand-in for %s (%s): the server does not have the real extension (see pgkeel''s docs/TOOLS.md)', ext, c.kind));
    PERFORM set_config('search_path', caller_path, true);
    RETURN 'standin';
END
$fn$;
REVOKE ALL ON FUNCTION pgkeel_supabase.create_extension(text, text, text, boolean, boolean) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgkeel_supabase TO postgres;
GRANT EXECUTE ON FUNCTION pgkeel_supabase.create_extension(text, text, text, boolean, boolean) TO postgres;
