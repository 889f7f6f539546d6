-- pgkeel stand-in for pg_hashids: the Hashids algorithm (hashids.org, as pg_hashids implements
-- it) in PL/pgSQL. id_encode/id_decode/id_decode_once with the same overloads and output.
CREATE FUNCTION @extschema@._pgkeel_hashids_shuffle(alphabet text, salt text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
    chars text[] := regexp_split_to_array(alphabet, '');
    i integer := length(alphabet) - 1;
    v integer := 0;
    p integer := 0;
    n integer;
    j integer;
    t text;
BEGIN
    IF salt = '' THEN
        RETURN alphabet;
    END IF;
    WHILE i > 0 LOOP
        v := v % length(salt);
        n := ascii(substr(salt, v + 1, 1));
        p := p + n;
        j := (n + v + p) % i;
        t := chars[j + 1];
        chars[j + 1] := chars[i + 1];
        chars[i + 1] := t;
        i := i - 1;
        v := v + 1;
    END LOOP;
    RETURN array_to_string(chars, '');
END
$fn$;

-- (alphabet, separators, guards) for a salt and alphabet.
CREATE FUNCTION @extschema@._pgkeel_hashids_setup(salt text, alphabet text, OUT alpha text, OUT seps text, OUT guards text)
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    c text;
    seps_len integer;
    diff integer;
    guard_count integer;
    uniq text := '';
BEGIN
    FOREACH c IN ARRAY regexp_split_to_array(coalesce(alphabet, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890'), '') LOOP
        IF c <> '' AND strpos(uniq, c) = 0 THEN
            uniq := uniq || c;
        END IF;
    END LOOP;
    IF length(uniq) < 16 THEN
        RAISE EXCEPTION 'alphabet must contain at least 16 unique characters';
    END IF;
    IF strpos(uniq, ' ') > 0 THEN
        RAISE EXCEPTION 'alphabet cannot contain spaces';
    END IF;
    seps := '';
    FOREACH c IN ARRAY regexp_split_to_array('cfhistuCFHISTU', '') LOOP
        IF strpos(uniq, c) > 0 THEN
            seps := seps || c;
        END IF;
    END LOOP;
    alpha := translate(uniq, seps, '');
    seps := @extschema@._pgkeel_hashids_shuffle(seps, coalesce(salt, ''));
    IF seps = '' OR length(alpha)::numeric / length(seps) > 3.5 THEN
        seps_len := ceil(length(alpha) / 3.5)::integer;
        IF seps_len = 1 THEN
            seps_len := 2;
        END IF;
        IF seps_len > length(seps) THEN
            diff := seps_len - length(seps);
            seps := seps || substr(alpha, 1, diff);
            alpha := substr(alpha, diff + 1);
        ELSE
            seps := substr(seps, 1, seps_len);
        END IF;
    END IF;
    alpha := @extschema@._pgkeel_hashids_shuffle(alpha, coalesce(salt, ''));
    guard_count := ceil(length(alpha) / 12.0)::integer;
    IF length(alpha) < 3 THEN
        guards := substr(seps, 1, guard_count);
        seps := substr(seps, guard_count + 1);
    ELSE
        guards := substr(alpha, 1, guard_count);
        alpha := substr(alpha, guard_count + 1);
    END IF;
END
$fn$;

CREATE FUNCTION @extschema@.id_encode(numbers bigint[], salt text, min_length integer, alphabet text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    s record;
    alpha text;
    values_hash bigint := 0;
    lottery text;
    encoded text;
    last text;
    num bigint;
    n bigint;
    i integer;
    alen integer;
    guard_index integer;
    split_at integer;
    excess integer;
BEGIN
    IF numbers IS NULL OR cardinality(numbers) = 0 THEN
        RETURN '';
    END IF;
    IF EXISTS (SELECT FROM unnest(numbers) x WHERE x IS NULL OR x < 0) THEN
        RAISE EXCEPTION 'hashids can only encode non-negative numbers';
    END IF;
    s := @extschema@._pgkeel_hashids_setup(salt, alphabet);
    alpha := s.alpha;
    alen := length(alpha);
    FOR i IN 1 .. cardinality(numbers) LOOP
        values_hash := values_hash + numbers[i] % (i - 1 + 100);
    END LOOP;
    lottery := substr(alpha, (values_hash % alen)::integer + 1, 1);
    encoded := lottery;
    FOR i IN 1 .. cardinality(numbers) LOOP
        num := numbers[i];
        alpha := @extschema@._pgkeel_hashids_shuffle(alpha, substr(lottery || coalesce(salt, '') || alpha, 1, alen));
        last := '';
        n := num;
        LOOP
            last := substr(alpha, (n % alen)::integer + 1, 1) || last;
            n := n / alen;
            EXIT WHEN n = 0;
        END LOOP;
        encoded := encoded || last;
        IF i < cardinality(numbers) THEN
            num := num % (ascii(last) + i - 1);
            encoded := encoded || substr(s.seps, (num % length(s.seps))::integer + 1, 1);
        END IF;
    END LOOP;
    min_length := coalesce(min_length, 0);
    IF length(encoded) < min_length THEN
        guard_index := ((values_hash + ascii(substr(encoded, 1, 1))) % length(s.guards))::integer;
        encoded := substr(s.guards, guard_index + 1, 1) || encoded;
        IF length(encoded) < min_length THEN
            guard_index := ((values_hash + ascii(substr(encoded, 3, 1))) % length(s.guards))::integer;
            encoded := encoded || substr(s.guards, guard_index + 1, 1);
        END IF;
    END IF;
    split_at := alen / 2;
    WHILE length(encoded) < min_length LOOP
        alpha := @extschema@._pgkeel_hashids_shuffle(alpha, alpha);
        encoded := substr(alpha, split_at + 1) || encoded || substr(alpha, 1, split_at);
        excess := length(encoded) - min_length;
        IF excess > 0 THEN
            encoded := substr(encoded, excess / 2 + 1, min_length);
        END IF;
    END LOOP;
    RETURN encoded;
END
$fn$;

CREATE FUNCTION @extschema@.id_decode(hashid text, salt text, min_length integer, alphabet text) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    s record;
    alpha text;
    parts text[];
    body text;
    lottery text;
    part text;
    result bigint[] := ARRAY[]::bigint[];
    num bigint;
    c text;
    alen integer;
BEGIN
    IF hashid IS NULL OR hashid = '' THEN
        RETURN ARRAY[]::bigint[];
    END IF;
    s := @extschema@._pgkeel_hashids_setup(salt, alphabet);
    alpha := s.alpha;
    alen := length(alpha);
    parts := string_to_array(translate(hashid, s.guards, repeat(' ', length(s.guards))), ' ');
    body := CASE WHEN cardinality(parts) IN (2, 3) THEN parts[2] ELSE parts[1] END;
    IF body IS NULL OR body = '' THEN
        RETURN ARRAY[]::bigint[];
    END IF;
    lottery := substr(body, 1, 1);
    body := substr(body, 2);
    FOREACH part IN ARRAY string_to_array(translate(body, s.seps, repeat(' ', length(s.seps))), ' ') LOOP
        alpha := @extschema@._pgkeel_hashids_shuffle(alpha, substr(lottery || coalesce(salt, '') || alpha, 1, alen));
        num := 0;
        FOREACH c IN ARRAY regexp_split_to_array(part, '') LOOP
            IF strpos(alpha, c) = 0 THEN
                RETURN ARRAY[]::bigint[];
            END IF;
            num := num * alen + strpos(alpha, c) - 1;
        END LOOP;
        result := result || num;
    END LOOP;
    IF @extschema@.id_encode(result, salt, min_length, alphabet) IS DISTINCT FROM hashid THEN
        RETURN ARRAY[]::bigint[];
    END IF;
    RETURN result;
END
$fn$;

CREATE FUNCTION @extschema@.id_encode(number bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(ARRAY[number], '', 0, NULL) $fn$;
CREATE FUNCTION @extschema@.id_encode(number bigint, salt text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(ARRAY[number], salt, 0, NULL) $fn$;
CREATE FUNCTION @extschema@.id_encode(number bigint, salt text, min_length integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(ARRAY[number], salt, min_length, NULL) $fn$;
CREATE FUNCTION @extschema@.id_encode(number bigint, salt text, min_length integer, alphabet text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(ARRAY[number], salt, min_length, alphabet) $fn$;
CREATE FUNCTION @extschema@.id_encode(numbers bigint[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(numbers, '', 0, NULL) $fn$;
CREATE FUNCTION @extschema@.id_encode(numbers bigint[], salt text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(numbers, salt, 0, NULL) $fn$;
CREATE FUNCTION @extschema@.id_encode(numbers bigint[], salt text, min_length integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_encode(numbers, salt, min_length, NULL) $fn$;
CREATE FUNCTION @extschema@.id_decode(hashid text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_decode(hashid, '', 0, NULL) $fn$;
CREATE FUNCTION @extschema@.id_decode(hashid text, salt text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_decode(hashid, salt, 0, NULL) $fn$;
CREATE FUNCTION @extschema@.id_decode(hashid text, salt text, min_length integer) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@.id_decode(hashid, salt, min_length, NULL) $fn$;
CREATE FUNCTION @extschema@.id_decode_once(hashid text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT (@extschema@.id_decode(hashid, '', 0, NULL))[1] $fn$;
CREATE FUNCTION @extschema@.id_decode_once(hashid text, salt text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT (@extschema@.id_decode(hashid, salt, 0, NULL))[1] $fn$;
CREATE FUNCTION @extschema@.id_decode_once(hashid text, salt text, min_length integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT (@extschema@.id_decode(hashid, salt, min_length, NULL))[1] $fn$;
CREATE FUNCTION @extschema@.id_decode_once(hashid text, salt text, min_length integer, alphabet text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT (@extschema@.id_decode(hashid, salt, min_length, alphabet))[1] $fn$;
