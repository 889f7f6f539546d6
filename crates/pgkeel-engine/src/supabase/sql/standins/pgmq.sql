-- pgkeel stand-in for pgmq: queues on real tables (pgmq.q_NAME, pgmq.a_NAME) with the basic
-- functions. Visibility timeouts and read counts behave as in pgmq; no partitioning, no metrics.
CREATE TABLE @extschema@.meta (
    queue_name     varchar     NOT NULL UNIQUE,
    is_partitioned boolean     NOT NULL DEFAULT false,
    is_unlogged    boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TYPE @extschema@.message_record AS (
    msg_id      bigint,
    read_ct     integer,
    enqueued_at timestamptz,
    vt          timestamptz,
    message     jsonb
);
CREATE FUNCTION @extschema@.create(queue_name text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF queue_name !~ '^[a-z0-9_]{1,47}$' THEN
        RAISE EXCEPTION 'queue name % is not valid: lower-case letters, digits and _ (at most 47)', queue_name;
    END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS @extschema@.%I (msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY, read_ct integer NOT NULL DEFAULT 0, enqueued_at timestamptz NOT NULL DEFAULT now(), vt timestamptz NOT NULL, message jsonb)', 'q_' || queue_name);
    EXECUTE format('CREATE TABLE IF NOT EXISTS @extschema@.%I (msg_id bigint PRIMARY KEY, read_ct integer NOT NULL DEFAULT 0, enqueued_at timestamptz NOT NULL DEFAULT now(), archived_at timestamptz NOT NULL DEFAULT now(), vt timestamptz NOT NULL, message jsonb)', 'a_' || queue_name);
    INSERT INTO @extschema@.meta (queue_name) VALUES (queue_name) ON CONFLICT DO NOTHING;
END
$fn$;
CREATE FUNCTION @extschema@.send(queue_name text, msg jsonb, delay integer DEFAULT 0) RETURNS SETOF bigint
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY EXECUTE format('INSERT INTO @extschema@.%I (vt, message) VALUES (now() + make_interval(secs => $1), $2) RETURNING msg_id', 'q_' || queue_name)
        USING delay, msg;
END
$fn$;
CREATE FUNCTION @extschema@.send_batch(queue_name text, msgs jsonb[], delay integer DEFAULT 0) RETURNS SETOF bigint
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY EXECUTE format('INSERT INTO @extschema@.%I (vt, message) SELECT now() + make_interval(secs => $1), m FROM unnest($2) AS m RETURNING msg_id', 'q_' || queue_name)
        USING delay, msgs;
END
$fn$;
CREATE FUNCTION @extschema@.read(queue_name text, vt integer, qty integer) RETURNS SETOF @extschema@.message_record
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'WITH cte AS (SELECT msg_id FROM @extschema@.%1$I WHERE vt <= now() ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE @extschema@.%1$I m SET vt = now() + make_interval(secs => $2), read_ct = read_ct + 1
           FROM cte WHERE m.msg_id = cte.msg_id
         RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message', 'q_' || queue_name)
        USING qty, vt;
END
$fn$;
CREATE FUNCTION @extschema@.pop(queue_name text) RETURNS SETOF @extschema@.message_record
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'WITH cte AS (SELECT msg_id FROM @extschema@.%1$I WHERE vt <= now() ORDER BY msg_id LIMIT 1 FOR UPDATE SKIP LOCKED)
         DELETE FROM @extschema@.%1$I m USING cte WHERE m.msg_id = cte.msg_id
         RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message', 'q_' || queue_name);
END
$fn$;
CREATE FUNCTION @extschema@.delete(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    n integer;
BEGIN
    EXECUTE format('DELETE FROM @extschema@.%I WHERE msg_id = $1', 'q_' || queue_name) USING msg_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$fn$;
CREATE FUNCTION @extschema@.archive(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    n integer;
BEGIN
    EXECUTE format(
        'WITH moved AS (DELETE FROM @extschema@.%I WHERE msg_id = $1 RETURNING msg_id, read_ct, enqueued_at, vt, message)
         INSERT INTO @extschema@.%I (msg_id, read_ct, enqueued_at, vt, message) SELECT * FROM moved', 'q_' || queue_name, 'a_' || queue_name)
        USING msg_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$fn$;
CREATE FUNCTION @extschema@.purge_queue(queue_name text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('DELETE FROM @extschema@.%I', 'q_' || queue_name);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
CREATE FUNCTION @extschema@.drop_queue(queue_name text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS @extschema@.%I', 'q_' || queue_name);
    EXECUTE format('DROP TABLE IF EXISTS @extschema@.%I', 'a_' || queue_name);
    DELETE FROM @extschema@.meta m WHERE m.queue_name = drop_queue.queue_name;
    RETURN FOUND;
END
$fn$;
