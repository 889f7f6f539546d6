-- pgkeel supabase bootstrap: the real contrib extensions Supabase installs in `extensions`.
-- (Left where they are when a migration or an earlier setup already installed them elsewhere.)
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
