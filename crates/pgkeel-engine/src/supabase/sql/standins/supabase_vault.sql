-- pgkeel stand-in for Supabase Vault: the secrets table and view, create_secret/update_secret.
-- Secrets are stored UNENCRYPTED (dev databases only).
CREATE TABLE @extschema@.secrets (
    id          uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name        text,
    description text        NOT NULL DEFAULT '',
    secret      text        NOT NULL,
    key_id      uuid,
    nonce       bytea,
    created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX secrets_name_idx ON @extschema@.secrets (name) WHERE name IS NOT NULL;
COMMENT ON TABLE @extschema@.secrets IS 'pgkeel stand-in for Supabase Vault: secrets are stored UNENCRYPTED (dev databases only)';
CREATE VIEW @extschema@.decrypted_secrets AS
    SELECT id, name, description, secret, secret AS decrypted_secret, key_id, nonce, created_at, updated_at
      FROM @extschema@.secrets;
CREATE FUNCTION @extschema@.create_secret(
    new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '', new_key_id uuid DEFAULT NULL
) RETURNS uuid LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
    INSERT INTO @extschema@.secrets (secret, name, description, key_id)
    VALUES (new_secret, new_name, coalesce(new_description, ''), new_key_id)
    RETURNING id
$fn$;
CREATE FUNCTION @extschema@.update_secret(
    secret_id uuid, new_secret text DEFAULT NULL, new_name text DEFAULT NULL,
    new_description text DEFAULT NULL, new_key_id uuid DEFAULT NULL
) RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
    UPDATE @extschema@.secrets SET secret = coalesce(new_secret, secret), name = coalesce(new_name, name),
        description = coalesce(new_description, description), key_id = coalesce(new_key_id, key_id),
        updated_at = CURRENT_TIMESTAMP
    WHERE id = secret_id
$fn$;
GRANT USAGE ON SCHEMA @extschema@ TO postgres, service_role;
REVOKE ALL ON @extschema@.secrets, @extschema@.decrypted_secrets FROM PUBLIC, anon, authenticated;
GRANT ALL ON @extschema@.secrets, @extschema@.decrypted_secrets TO postgres, service_role;
REVOKE ALL ON FUNCTION @extschema@.create_secret(text, text, text, uuid), @extschema@.update_secret(uuid, text, text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_secret(text, text, text, uuid), @extschema@.update_secret(uuid, text, text, text, uuid) TO postgres, service_role;
