-- pgkeel supabase bootstrap: the tables and helpers of Supabase Storage that migrations use
-- (bucket rows, policies on storage.objects). Files themselves are the storage API's business.
CREATE TABLE IF NOT EXISTS storage.buckets (
    id                 text        NOT NULL PRIMARY KEY,
    name               text        NOT NULL,
    owner              uuid,
    created_at         timestamptz DEFAULT now(),
    updated_at         timestamptz DEFAULT now(),
    public             boolean     DEFAULT false,
    avif_autodetection boolean     DEFAULT false,
    file_size_limit    bigint,
    allowed_mime_types text[],
    owner_id           text
);
CREATE UNIQUE INDEX IF NOT EXISTS bname ON storage.buckets USING btree (name);
COMMENT ON COLUMN storage.buckets.owner IS 'Field is deprecated, use owner_id instead';

CREATE TABLE IF NOT EXISTS storage.objects (
    id               uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    bucket_id        text        REFERENCES storage.buckets (id),
    name             text,
    owner            uuid,
    created_at       timestamptz DEFAULT now(),
    updated_at       timestamptz DEFAULT now(),
    last_accessed_at timestamptz DEFAULT now(),
    metadata         jsonb,
    path_tokens      text[]      GENERATED ALWAYS AS (string_to_array(name, '/')) STORED,
    version          text,
    owner_id         text,
    user_metadata    jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS bucketid_objname ON storage.objects USING btree (bucket_id, name);
CREATE INDEX IF NOT EXISTS name_prefix_search ON storage.objects USING btree (name text_pattern_ops);
COMMENT ON COLUMN storage.objects.owner IS 'Field is deprecated, use owner_id instead';

ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;

-- 'a/b/c.png' → {a,b}
CREATE OR REPLACE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    parts text[];
BEGIN
    parts := string_to_array(name, '/');
    RETURN parts[1 : array_length(parts, 1) - 1];
END
$fn$;

-- 'a/b/c.png' → 'c.png'
CREATE OR REPLACE FUNCTION storage.filename(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    parts text[];
BEGIN
    parts := string_to_array(name, '/');
    RETURN parts[array_length(parts, 1)];
END
$fn$;

-- 'a/b/c.tar.gz' → 'gz'
CREATE OR REPLACE FUNCTION storage.extension(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    parts text[];
    base  text;
BEGIN
    parts := string_to_array(name, '/');
    base := parts[array_length(parts, 1)];
    IF position('.' IN base) = 0 THEN
        RETURN '';
    END IF;
    RETURN reverse(split_part(reverse(base), '.', 1));
END
$fn$;

GRANT ALL ON storage.buckets, storage.objects TO anon, authenticated, service_role, postgres, supabase_storage_admin;
GRANT EXECUTE ON FUNCTION storage.foldername(text), storage.filename(text), storage.extension(text)
    TO PUBLIC, anon, authenticated, service_role;
