-- pgkeel supabase bootstrap: what follows the preinstalled extensions (bootstrap.rs creates
-- them first from the catalogue: pgcrypto, uuid-ossp, pg_stat_statements in `extensions` for
-- real, pgjwt, pgsodium, supabase_vault and pg_graphql real or as stand-ins).
-- graphql_public.graphql: what PostgREST exposes as /rpc/graphql on Supabase.
CREATE OR REPLACE FUNCTION graphql_public.graphql(
    "operationName" text DEFAULT NULL, query text DEFAULT NULL, variables jsonb DEFAULT NULL, extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
    SELECT graphql.resolve(query, coalesce(variables, '{}'), "operationName", extensions)
$fn$;
GRANT EXECUTE ON FUNCTION graphql_public.graphql(text, text, jsonb, jsonb) TO anon, authenticated, service_role;

-- The database's search_path, as on Supabase: extensions' functions (gen_random_bytes,
-- uuid_generate_v4, …) resolve unqualified. Sessions opened from now on see it.
DO $path$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, extensions', current_database());
END
$path$;
SET LOCAL search_path = "$user", public, extensions;
