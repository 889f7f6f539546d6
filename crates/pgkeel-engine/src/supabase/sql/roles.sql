-- pgkeel supabase bootstrap: the roles a Supabase project's migrations expect.
-- Roles are cluster-wide: every creation tolerates a concurrent bootstrap of another database.
-- No role gets a password; supabase_admin is a superuser that cannot log in (a dev stand-in).
DO $roles$
DECLARE
    spec text[];
BEGIN
    FOREACH spec SLICE 1 IN ARRAY ARRAY[
        ['postgres',                   'NOLOGIN'],
        ['anon',                       'NOLOGIN NOINHERIT'],
        ['authenticated',              'NOLOGIN NOINHERIT'],
        ['service_role',               'NOLOGIN NOINHERIT BYPASSRLS'],
        ['authenticator',              'LOGIN NOINHERIT'],
        ['supabase_admin',             'NOLOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS'],
        ['supabase_auth_admin',        'NOLOGIN NOINHERIT CREATEROLE'],
        ['supabase_storage_admin',     'NOLOGIN NOINHERIT CREATEROLE'],
        ['supabase_functions_admin',   'NOLOGIN NOINHERIT CREATEROLE'],
        ['supabase_realtime_admin',    'NOLOGIN NOINHERIT'],
        ['supabase_replication_admin', 'NOLOGIN REPLICATION'],
        ['supabase_read_only_user',    'NOLOGIN BYPASSRLS'],
        ['dashboard_user',             'NOLOGIN CREATEDB CREATEROLE REPLICATION'],
        ['pgbouncer',                  'NOLOGIN'],
        ['pgsodium_keyholder',         'NOLOGIN NOINHERIT'],
        ['pgsodium_keyiduser',         'NOLOGIN NOINHERIT'],
        ['pgsodium_keymaker',          'NOLOGIN NOINHERIT']
    ] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = spec[1]) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a concurrent bootstrap
            END;
        END IF;
    END LOOP;

    FOREACH spec SLICE 1 IN ARRAY ARRAY[
        ['anon', 'authenticator'],
        ['authenticated', 'authenticator'],
        ['service_role', 'authenticator'],
        ['supabase_functions_admin', 'postgres'],
        ['pg_read_all_data', 'supabase_read_only_user']
    ] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = spec[2])
           AND NOT pg_has_role(spec[2], spec[1], 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', spec[1], spec[2]);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$roles$;
