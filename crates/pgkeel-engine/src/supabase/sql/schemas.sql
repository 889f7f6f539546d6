-- pgkeel supabase bootstrap: schemas, owned as on Supabase where the owner role exists. (net and
-- cron come with pg_net and pg_cron: their stand-ins create them, as the real ones do.)
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS realtime;
CREATE SCHEMA IF NOT EXISTS graphql;
CREATE SCHEMA IF NOT EXISTS graphql_public;
CREATE SCHEMA IF NOT EXISTS supabase_functions AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS vault;
CREATE SCHEMA IF NOT EXISTS pgsodium;
CREATE SCHEMA IF NOT EXISTS supabase_migrations;

GRANT USAGE ON SCHEMA public, extensions, auth, storage, graphql_public, realtime
    TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA graphql TO anon, authenticated, service_role;
GRANT ALL ON SCHEMA auth TO supabase_auth_admin, dashboard_user, postgres;
GRANT ALL ON SCHEMA storage TO supabase_storage_admin, dashboard_user, postgres;
GRANT ALL ON SCHEMA extensions TO postgres, dashboard_user;
GRANT USAGE ON SCHEMA supabase_functions TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA vault TO postgres, service_role;
