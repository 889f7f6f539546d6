-- pgkeel stand-in for pg_net: the request queue and response table, and http_get/http_post/
-- http_delete, which queue a request and never send it.
CREATE SCHEMA IF NOT EXISTS net;
GRANT USAGE ON SCHEMA net TO postgres, service_role;
CREATE TABLE net.http_request_queue (
    id                   bigserial PRIMARY KEY,
    method               text      NOT NULL,
    url                  text      NOT NULL,
    headers              jsonb     NOT NULL,
    body                 bytea,
    timeout_milliseconds integer   NOT NULL
);
CREATE TABLE net._http_response (
    id           bigint,
    status_code  integer,
    content_type text,
    headers      jsonb,
    content      text,
    timed_out    boolean,
    error_msg    text,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION net.http_get(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = net AS $fn$
    INSERT INTO net.http_request_queue (method, url, headers, timeout_milliseconds)
    VALUES ('GET', url, coalesce(headers, '{}'::jsonb), timeout_milliseconds)
    RETURNING id
$fn$;
CREATE FUNCTION net.http_post(
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
CREATE FUNCTION net.http_delete(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = net AS $fn$
    INSERT INTO net.http_request_queue (method, url, headers, timeout_milliseconds)
    VALUES ('DELETE', url, coalesce(headers, '{}'::jsonb), timeout_milliseconds)
    RETURNING id
$fn$;
GRANT EXECUTE ON FUNCTION net.http_get(text, jsonb, jsonb, integer), net.http_post(text, jsonb, jsonb, jsonb, integer),
    net.http_delete(text, jsonb, jsonb, integer) TO postgres, service_role;
