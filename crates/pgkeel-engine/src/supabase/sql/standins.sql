-- pgkeel supabase bootstrap: stand-ins for the extensions Supabase ships that plain PostgreSQL
-- lacks. Each keeps the real extension's schema, tables and function signatures (the parts
-- migrations call) and does nothing outside the database: pg_net queues requests it never
-- sends, pg_cron records jobs it never runs, http answers 503, vault stores secrets unencrypted.
-- Each is then registered in pg_extension (register_standin) so `CREATE EXTENSION IF NOT
-- EXISTS …` in a migration is a no-op, as it is on Supabase where they are preinstalled.

-- pg_net ------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS net.http_request_queue (
    id                   bigserial PRIMARY KEY,
    method               text      NOT NULL,
    url                  text      NOT NULL,
    headers              jsonb     NOT NULL,
    body                 bytea,
    timeout_milliseconds integer   NOT NULL
);
CREATE TABLE IF NOT EXISTS net._http_response (
    id           bigint,
    status_code  integer,
    content_type text,
    headers      jsonb,
    content      text,
    timed_out    boolean,
    error_msg    text,
    created      timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION net.http_get(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = net AS $fn$
    INSERT INTO net.http_request_queue (method, url, headers, timeout_milliseconds)
    VALUES ('GET', url, coalesce(headers, '{}'::jsonb), timeout_milliseconds)
    RETURNING id
$fn$;

CREATE OR REPLACE FUNCTION net.http_post(
    url text,
    body jsonb DEFAULT '{}'::jsonb,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = net AS $fn$
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES ('POST', url, coalesce(headers, '{}'::jsonb), convert_to(coalesce(body, '{}'::jsonb)::text, 'UTF8'), timeout_milliseconds)
    RETURNING id
$fn$;

CREATE OR REPLACE FUNCTION net.http_delete(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = net AS $fn$
    INSERT INTO net.http_request_queue (method, url, headers, timeout_milliseconds)
    VALUES ('DELETE', url, coalesce(headers, '{}'::jsonb), timeout_milliseconds)
    RETURNING id
$fn$;

-- Database webhooks (supabase_functions.http_request) call pg_net from a trigger.
CREATE TABLE IF NOT EXISTS supabase_functions.hooks (
    id         bigserial   PRIMARY KEY,
    hook_table_id integer  NOT NULL,
    hook_name  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    request_id bigint
);
CREATE OR REPLACE FUNCTION supabase_functions.http_request() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = supabase_functions AS $fn$
DECLARE
    request_id bigint;
    payload    jsonb;
    url        text    := TG_ARGV[0]::text;
    method     text    := TG_ARGV[1]::text;
    headers    jsonb   := coalesce(TG_ARGV[2]::jsonb, '{}'::jsonb);
    params     jsonb   := coalesce(TG_ARGV[3]::jsonb, '{}'::jsonb);
    timeout_ms integer := coalesce(TG_ARGV[4]::integer, 1000);
BEGIN
    IF url IS NULL OR method IS NULL THEN
        RAISE EXCEPTION 'url and method arguments are required';
    END IF;
    payload := jsonb_build_object(
        'old_record', CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
        'record', CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END,
        'type', TG_OP, 'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA);
    IF method = 'GET' THEN
        request_id := net.http_get(url, params, headers, timeout_ms);
    ELSE
        request_id := net.http_post(url, payload, params, headers, timeout_ms);
    END IF;
    INSERT INTO supabase_functions.hooks (hook_table_id, hook_name, request_id)
    VALUES (TG_RELID, TG_NAME, request_id);
    RETURN NEW;
END
$fn$;

-- pg_cron -----------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS cron.job (
    jobid    bigserial PRIMARY KEY,
    schedule text      NOT NULL,
    command  text      NOT NULL,
    nodename text      NOT NULL DEFAULT 'localhost',
    nodeport integer   NOT NULL DEFAULT inet_server_port(),
    database text      NOT NULL DEFAULT current_database(),
    username text      NOT NULL DEFAULT current_user,
    active   boolean   NOT NULL DEFAULT true,
    jobname  text,
    UNIQUE (jobname, username)
);
CREATE TABLE IF NOT EXISTS cron.job_run_details (
    jobid          bigint,
    runid          bigserial PRIMARY KEY,
    job_pid        integer,
    database       text,
    username       text,
    command        text,
    status         text,
    return_message text,
    start_time     timestamptz,
    end_time       timestamptz
);

CREATE OR REPLACE FUNCTION cron.schedule(schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO cron.job (schedule, command) VALUES (schedule, command) RETURNING jobid
$fn$;

CREATE OR REPLACE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO cron.job (jobname, schedule, command) VALUES (job_name, schedule, command)
    ON CONFLICT (jobname, username) DO UPDATE SET schedule = excluded.schedule, command = excluded.command
    RETURNING jobid
$fn$;

CREATE OR REPLACE FUNCTION cron.schedule_in_database(
    job_name text, schedule text, command text, database text,
    username text DEFAULT NULL, active boolean DEFAULT true
) RETURNS bigint LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO cron.job (jobname, schedule, command, database, username, active)
    VALUES (job_name, schedule, command, database, coalesce(username, current_user), active)
    ON CONFLICT (jobname, username) DO UPDATE SET schedule = excluded.schedule, command = excluded.command,
        database = excluded.database, active = excluded.active
    RETURNING jobid
$fn$;

CREATE OR REPLACE FUNCTION cron.unschedule(job_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    DELETE FROM cron.job WHERE jobid = job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'could not find valid entry for job %', job_id;
    END IF;
    RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION cron.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    DELETE FROM cron.job WHERE jobname = job_name AND username = current_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'could not find valid entry for job ''%''', job_name;
    END IF;
    RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION cron.alter_job(
    job_id bigint, schedule text DEFAULT NULL, command text DEFAULT NULL,
    database text DEFAULT NULL, username text DEFAULT NULL, active boolean DEFAULT NULL
) RETURNS void LANGUAGE sql VOLATILE AS $fn$
    UPDATE cron.job SET schedule = coalesce(alter_job.schedule, job.schedule),
        command = coalesce(alter_job.command, job.command),
        database = coalesce(alter_job.database, job.database),
        username = coalesce(alter_job.username, job.username),
        active = coalesce(alter_job.active, job.active)
    WHERE jobid = job_id
$fn$;

-- http (pgsql-http) -------------------------------------------------------------------------
DO $types$
BEGIN
    IF to_regtype('extensions.http_header') IS NULL THEN
        CREATE TYPE extensions.http_header AS (field varchar, value varchar);
    END IF;
    IF to_regtype('extensions.http_response') IS NULL THEN
        CREATE TYPE extensions.http_response AS (status integer, content_type varchar, headers extensions.http_header[], content varchar);
    END IF;
END
$types$;

CREATE OR REPLACE FUNCTION extensions.http_get(uri varchar) RETURNS extensions.http_response
LANGUAGE sql VOLATILE AS $fn$
    SELECT ROW(503, 'text/plain', ARRAY[]::extensions.http_header[], 'pgkeel stand-in for the http extension: no request was sent')::extensions.http_response
$fn$;
CREATE OR REPLACE FUNCTION extensions.http_post(uri varchar, content varchar, content_type varchar) RETURNS extensions.http_response
LANGUAGE sql VOLATILE AS $fn$
    SELECT extensions.http_get(uri)
$fn$;
CREATE OR REPLACE FUNCTION extensions.http_delete(uri varchar) RETURNS extensions.http_response
LANGUAGE sql VOLATILE AS $fn$
    SELECT extensions.http_get(uri)
$fn$;

-- pgjwt: HMAC JSON web tokens (a working implementation on pgcrypto's hmac) ------------------
CREATE OR REPLACE FUNCTION extensions.url_encode(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT translate(encode(data, 'base64'), E'+/=\n', '-_')
$fn$;

CREATE OR REPLACE FUNCTION extensions.url_decode(data text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT decode(rpad(translate(data, '-_', '+/'), length(data) + (4 - length(data) % 4) % 4, '='), 'base64')
$fn$;

CREATE OR REPLACE FUNCTION extensions.algorithm_sign(signables text, secret text, algorithm text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = extensions, public AS $fn$
    SELECT extensions.url_encode(hmac(signables, secret,
        CASE algorithm WHEN 'HS256' THEN 'sha256' WHEN 'HS384' THEN 'sha384' WHEN 'HS512' THEN 'sha512' END))
$fn$;

CREATE OR REPLACE FUNCTION extensions.sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    WITH parts AS (
        SELECT extensions.url_encode(convert_to(json_build_object('alg', algorithm, 'typ', 'JWT')::text, 'UTF8'))
               || '.' || extensions.url_encode(convert_to(payload::text, 'UTF8')) AS signables
    )
    SELECT signables || '.' || extensions.algorithm_sign(signables, secret, algorithm) FROM parts
$fn$;

CREATE OR REPLACE FUNCTION extensions.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE (header json, payload json, valid boolean)
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT convert_from(extensions.url_decode(r[1]), 'UTF8')::json,
           convert_from(extensions.url_decode(r[2]), 'UTF8')::json,
           r[3] = extensions.algorithm_sign(r[1] || '.' || r[2], secret, algorithm)
      FROM regexp_split_to_array(token, '\.') AS r
$fn$;

-- supabase_vault ----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS vault.secrets (
    id          uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name        text,
    description text        NOT NULL DEFAULT '',
    secret      text        NOT NULL,
    key_id      uuid,
    nonce       bytea,
    created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX IF NOT EXISTS secrets_name_idx ON vault.secrets (name) WHERE name IS NOT NULL;
COMMENT ON TABLE vault.secrets IS 'pgkeel stand-in for Supabase Vault: secrets are stored UNENCRYPTED (dev databases only)';

CREATE OR REPLACE VIEW vault.decrypted_secrets AS
    SELECT id, name, description, secret, secret AS decrypted_secret, key_id, nonce, created_at, updated_at
      FROM vault.secrets;

CREATE OR REPLACE FUNCTION vault.create_secret(
    new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '', new_key_id uuid DEFAULT NULL
) RETURNS uuid LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
    INSERT INTO vault.secrets (secret, name, description, key_id)
    VALUES (new_secret, new_name, coalesce(new_description, ''), new_key_id)
    RETURNING id
$fn$;

CREATE OR REPLACE FUNCTION vault.update_secret(
    secret_id uuid, new_secret text DEFAULT NULL, new_name text DEFAULT NULL,
    new_description text DEFAULT NULL, new_key_id uuid DEFAULT NULL
) RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
    UPDATE vault.secrets SET secret = coalesce(new_secret, secret), name = coalesce(new_name, name),
        description = coalesce(new_description, description), key_id = coalesce(new_key_id, key_id),
        updated_at = CURRENT_TIMESTAMP
    WHERE id = secret_id
$fn$;

REVOKE ALL ON vault.secrets, vault.decrypted_secrets FROM PUBLIC, anon, authenticated;
GRANT ALL ON vault.secrets, vault.decrypted_secrets TO postgres, service_role;
REVOKE ALL ON FUNCTION vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) TO postgres, service_role;

-- pg_graphql --------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION graphql.resolve(
    query text, variables jsonb DEFAULT '{}', "operationName" text DEFAULT NULL, extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_build_object('data', NULL, 'errors', jsonb_build_array(jsonb_build_object(
        'message', 'pg_graphql is not available: this database runs pgkeel''s Supabase stand-ins')))
$fn$;
CREATE OR REPLACE FUNCTION graphql_public.graphql(
    "operationName" text DEFAULT NULL, query text DEFAULT NULL, variables jsonb DEFAULT NULL, extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
    SELECT graphql.resolve(query, coalesce(variables, '{}'), "operationName", extensions)
$fn$;
GRANT EXECUTE ON FUNCTION graphql.resolve(text, jsonb, text, jsonb), graphql_public.graphql(text, text, jsonb, jsonb)
    TO anon, authenticated, service_role;

-- Registration ------------------------------------------------------------------------------
SELECT pgkeel_supabase.register_standin('pg_net', 'extensions', '0.14.0', ARRAY['net']::name[]);
SELECT pgkeel_supabase.register_standin('pg_cron', 'pg_catalog', '1.6', ARRAY['cron']::name[]);
SELECT pgkeel_supabase.register_standin('http', 'extensions', '1.6', ARRAY['extensions']::name[],
    ARRAY['http_get', 'http_post', 'http_delete', 'http_header', 'http_response']::name[]);
SELECT pgkeel_supabase.register_standin('pgjwt', 'extensions', '0.2.0', ARRAY['extensions']::name[],
    ARRAY['url_encode', 'url_decode', 'algorithm_sign', 'sign', 'verify']::name[]);
SELECT pgkeel_supabase.register_standin('pgsodium', 'pgsodium', '3.1.8', ARRAY['pgsodium']::name[]);
SELECT pgkeel_supabase.register_standin('supabase_vault', 'vault', '0.3.1', ARRAY['vault']::name[]);
SELECT pgkeel_supabase.register_standin('pg_graphql', 'graphql', '1.5.11', ARRAY['graphql']::name[]);
