-- pgkeel supabase bootstrap: database webhooks (supabase_functions.http_request, the trigger
-- function the dashboard's webhooks use). It queues the request through pg_net's net.http_get /
-- net.http_post, so pg_net (real or stand-in) must be created before a webhook fires.
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

