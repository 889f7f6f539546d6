-- pgkeel stand-in for pg_graphql: graphql.resolve answers a GraphQL error (there is no GraphQL
-- API on plain PostgreSQL).
CREATE FUNCTION @extschema@.resolve(
    query text, variables jsonb DEFAULT '{}', "operationName" text DEFAULT NULL, extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_build_object('data', NULL, 'errors', jsonb_build_array(jsonb_build_object(
        'message', 'pg_graphql is not available: this database runs pgkeel''s Supabase stand-ins')))
$fn$;
GRANT EXECUTE ON FUNCTION @extschema@.resolve(text, jsonb, text, jsonb) TO anon, authenticated, service_role;
