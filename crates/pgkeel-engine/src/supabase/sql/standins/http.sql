-- pgkeel stand-in for http (pgsql-http): its types, and requests that answer 503 without
-- sending anything.
CREATE TYPE @extschema@.http_header AS (field varchar, value varchar);
CREATE TYPE @extschema@.http_response AS (status integer, content_type varchar, headers @extschema@.http_header[], content varchar);
CREATE FUNCTION @extschema@.http_get(uri varchar) RETURNS @extschema@.http_response
LANGUAGE sql VOLATILE AS $fn$
    SELECT ROW(503, 'text/plain', ARRAY[]::@extschema@.http_header[], 'pgkeel stand-in for the http extension: no request was sent')::@extschema@.http_response
$fn$;
CREATE FUNCTION @extschema@.http_post(uri varchar, content varchar, content_type varchar) RETURNS @extschema@.http_response
LANGUAGE sql VOLATILE AS $fn$
    SELECT @extschema@.http_get(uri)
$fn$;
CREATE FUNCTION @extschema@.http_delete(uri varchar) RETURNS @extschema@.http_response
LANGUAGE sql VOLATILE AS $fn$
    SELECT @extschema@.http_get(uri)
$fn$;
