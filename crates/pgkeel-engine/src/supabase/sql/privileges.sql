-- pgkeel supabase bootstrap: Supabase's default privileges on `public`. PostgREST's roles get
-- table, sequence and function privileges on everything created there; row level security
-- policies decide what they actually see. Applied for the roles that create objects in
-- migrations: the bootstrapping user, postgres and supabase_admin.
GRANT ALL ON SCHEMA public TO postgres, anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO postgres, anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO postgres, anon, authenticated, service_role;
GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO postgres, anon, authenticated, service_role;
DO $defaults$
DECLARE
    creator text;
BEGIN
    FOREACH creator IN ARRAY ARRAY[current_user::text, 'postgres', 'supabase_admin'] LOOP
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role', creator);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role', creator);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role', creator);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA storage GRANT ALL ON TABLES TO anon, authenticated, service_role', creator);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA graphql_public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role', creator);
    END LOOP;
END
$defaults$;
