-- pgkeel stand-in for pgjwt: HMAC JSON web tokens, a working implementation on pgcrypto's hmac.
CREATE FUNCTION @extschema@.url_encode(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT translate(encode(data, 'base64'), E'+/=\n', '-_')
$fn$;
CREATE FUNCTION @extschema@.url_decode(data text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT decode(rpad(translate(data, '-_', '+/'), length(data) + (4 - length(data) % 4) % 4, '='), 'base64')
$fn$;
CREATE FUNCTION @extschema@.algorithm_sign(signables text, secret text, algorithm text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT @extschema@.url_encode(@extschema:pgcrypto@.hmac(signables, secret,
        CASE algorithm WHEN 'HS256' THEN 'sha256' WHEN 'HS384' THEN 'sha384' WHEN 'HS512' THEN 'sha512' END))
$fn$;
CREATE FUNCTION @extschema@.sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    WITH parts AS (
        SELECT @extschema@.url_encode(convert_to(json_build_object('alg', algorithm, 'typ', 'JWT')::text, 'UTF8'))
               || '.' || @extschema@.url_encode(convert_to(payload::text, 'UTF8')) AS signables
    )
    SELECT signables || '.' || @extschema@.algorithm_sign(signables, secret, algorithm) FROM parts
$fn$;
CREATE FUNCTION @extschema@.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE (header json, payload json, valid boolean)
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT convert_from(@extschema@.url_decode(r[1]), 'UTF8')::json,
           convert_from(@extschema@.url_decode(r[2]), 'UTF8')::json,
           r[3] = @extschema@.algorithm_sign(r[1] || '.' || r[2], secret, algorithm)
      FROM regexp_split_to_array(token, '\.') AS r
$fn$;
