-- pgkeel stand-in for pg_cron: cron.job and cron.job_run_details, and the scheduling functions,
-- which record jobs that never run.
CREATE SCHEMA IF NOT EXISTS cron;
GRANT USAGE ON SCHEMA cron TO postgres, service_role;
CREATE TABLE cron.job (
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
CREATE TABLE cron.job_run_details (
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
CREATE FUNCTION cron.schedule(schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO cron.job (schedule, command) VALUES (schedule, command) RETURNING jobid
$fn$;
CREATE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO cron.job (jobname, schedule, command) VALUES (job_name, schedule, command)
    ON CONFLICT (jobname, username) DO UPDATE SET schedule = excluded.schedule, command = excluded.command
    RETURNING jobid
$fn$;
CREATE FUNCTION cron.schedule_in_database(
    job_name text, schedule text, command text, database text,
    username text DEFAULT NULL, active boolean DEFAULT true
) RETURNS bigint LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO cron.job (jobname, schedule, command, database, username, active)
    VALUES (job_name, schedule, command, database, coalesce(username, current_user), active)
    ON CONFLICT (jobname, username) DO UPDATE SET schedule = excluded.schedule, command = excluded.command,
        database = excluded.database, active = excluded.active
    RETURNING jobid
$fn$;
CREATE FUNCTION cron.unschedule(job_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    DELETE FROM cron.job WHERE jobid = job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'could not find valid entry for job %', job_id;
    END IF;
    RETURN true;
END
$fn$;
CREATE FUNCTION cron.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    DELETE FROM cron.job WHERE jobname = job_name AND username = current_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'could not find valid entry for job ''%''', job_name;
    END IF;
    RETURN true;
END
$fn$;
CREATE FUNCTION cron.alter_job(
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
