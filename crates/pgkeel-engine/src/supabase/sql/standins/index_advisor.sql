-- pgkeel stand-in for index_advisor: the function exists and says, in its own `errors` column,
-- that no advice is available (it never pretends to have found nothing to improve).
CREATE FUNCTION @extschema@.index_advisor(query text)
RETURNS TABLE (startup_cost_before jsonb, startup_cost_after jsonb, total_cost_before jsonb,
               total_cost_after jsonb, index_statements text[], errors text[])
LANGUAGE sql VOLATILE AS $fn$
    SELECT NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::jsonb, ARRAY[]::text[],
           ARRAY['index_advisor is a pgkeel stand-in on this server: no advice is available (install index_advisor and hypopg for real advice)']::text[]
$fn$;
