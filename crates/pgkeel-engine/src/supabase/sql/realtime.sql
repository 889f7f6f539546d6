-- pgkeel supabase bootstrap: Realtime's publication (empty, as on a new Supabase project;
-- migrations add tables with ALTER PUBLICATION supabase_realtime ADD TABLE …).
-- (CREATE PUBLICATION warns when wal_level is not logical: expected on a dev server.)
SET LOCAL client_min_messages = error;
DO $pub$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END
$pub$;
RESET client_min_messages;
