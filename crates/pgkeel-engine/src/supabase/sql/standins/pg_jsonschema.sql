-- pgkeel stand-in for pg_jsonschema: a partial JSON Schema validator. It implements type,
-- enum, const, properties, required, additionalProperties, items, minItems, maxItems,
-- minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
-- allOf, anyOf, oneOf and not (annotations such as title or description are ignored); any
-- other keyword raises an error instead of being skipped, so a schema is never reported as
-- matched when it was not fully checked.
CREATE FUNCTION @extschema@._pgkeel_jsonschema_errors(s jsonb, v jsonb, path text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    errs text[] := ARRAY[]::text[];
    k text;
    sub jsonb;
    t text;
    types jsonb;
    ok boolean;
    n integer;
    e jsonb;
BEGIN
    IF jsonb_typeof(s) = 'boolean' THEN
        RETURN CASE WHEN s = 'true'::jsonb THEN errs ELSE ARRAY[path || ': false schema'] END;
    END IF;
    IF jsonb_typeof(s) <> 'object' THEN
        RAISE EXCEPTION 'invalid JSON Schema at %: not an object or boolean', path;
    END IF;
    FOR k IN SELECT jsonb_object_keys(s) LOOP
        IF k NOT IN ('$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly',
                     'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems',
                     'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
                     'allOf', 'anyOf', 'oneOf', 'not') THEN
            RAISE EXCEPTION 'pg_jsonschema stand-in: JSON Schema keyword "%" (at %) is not supported by pgkeel''s stand-in; install pg_jsonschema', k, path
                USING ERRCODE = 'feature_not_supported';
        END IF;
    END LOOP;
    t := jsonb_typeof(v);
    IF s ? 'type' THEN
        types := CASE WHEN jsonb_typeof(s -> 'type') = 'array' THEN s -> 'type' ELSE jsonb_build_array(s -> 'type') END;
        ok := EXISTS (SELECT FROM jsonb_array_elements_text(types) want
                       WHERE want = t
                          OR (want = 'integer' AND t = 'number' AND v::text::numeric = trunc(v::text::numeric)));
        IF NOT ok THEN
            errs := errs || format('%s: %s is not of type %s', path, v::text, (s -> 'type')::text);
        END IF;
    END IF;
    IF s ? 'enum' AND NOT EXISTS (SELECT FROM jsonb_array_elements(s -> 'enum') x WHERE x = v) THEN
        errs := errs || format('%s: %s is not one of %s', path, v::text, (s -> 'enum')::text);
    END IF;
    IF s ? 'const' AND s -> 'const' <> v THEN
        errs := errs || format('%s: %s is not %s', path, v::text, (s -> 'const')::text);
    END IF;
    IF t = 'object' THEN
        IF s ? 'required' THEN
            FOR k IN SELECT jsonb_array_elements_text(s -> 'required') LOOP
                IF NOT v ? k THEN
                    errs := errs || format('%s: "%s" is a required property', path, k);
                END IF;
            END LOOP;
        END IF;
        FOR k, sub IN SELECT key, value FROM jsonb_each(v) LOOP
            IF s -> 'properties' ? k THEN
                errs := errs || @extschema@._pgkeel_jsonschema_errors(s -> 'properties' -> k, sub, path || '/' || k);
            ELSIF s ? 'additionalProperties' THEN
                errs := errs || @extschema@._pgkeel_jsonschema_errors(s -> 'additionalProperties', sub, path || '/' || k);
            END IF;
        END LOOP;
    END IF;
    IF t = 'array' THEN
        IF s ? 'items' THEN
            IF jsonb_typeof(s -> 'items') = 'array' THEN
                RAISE EXCEPTION 'pg_jsonschema stand-in: tuple "items" (at %) is not supported by pgkeel''s stand-in; install pg_jsonschema', path
                    USING ERRCODE = 'feature_not_supported';
            END IF;
            n := 0;
            FOR sub IN SELECT value FROM jsonb_array_elements(v) LOOP
                errs := errs || @extschema@._pgkeel_jsonschema_errors(s -> 'items', sub, path || '/' || n);
                n := n + 1;
            END LOOP;
        END IF;
        IF s ? 'minItems' AND jsonb_array_length(v) < (s ->> 'minItems')::integer THEN
            errs := errs || format('%s: fewer than %s items', path, s ->> 'minItems');
        END IF;
        IF s ? 'maxItems' AND jsonb_array_length(v) > (s ->> 'maxItems')::integer THEN
            errs := errs || format('%s: more than %s items', path, s ->> 'maxItems');
        END IF;
    END IF;
    IF t = 'string' THEN
        IF s ? 'minLength' AND length(v #>> '{}') < (s ->> 'minLength')::integer THEN
            errs := errs || format('%s: shorter than %s characters', path, s ->> 'minLength');
        END IF;
        IF s ? 'maxLength' AND length(v #>> '{}') > (s ->> 'maxLength')::integer THEN
            errs := errs || format('%s: longer than %s characters', path, s ->> 'maxLength');
        END IF;
        IF s ? 'pattern' AND NOT (v #>> '{}') ~ (s ->> 'pattern') THEN
            errs := errs || format('%s: does not match %s', path, s ->> 'pattern');
        END IF;
    END IF;
    IF t = 'number' THEN
        IF s ? 'minimum' AND (v::text)::numeric < (s ->> 'minimum')::numeric THEN
            errs := errs || format('%s: less than %s', path, s ->> 'minimum');
        END IF;
        IF s ? 'maximum' AND (v::text)::numeric > (s ->> 'maximum')::numeric THEN
            errs := errs || format('%s: greater than %s', path, s ->> 'maximum');
        END IF;
        IF s ? 'exclusiveMinimum' AND (v::text)::numeric <= (s ->> 'exclusiveMinimum')::numeric THEN
            errs := errs || format('%s: not greater than %s', path, s ->> 'exclusiveMinimum');
        END IF;
        IF s ? 'exclusiveMaximum' AND (v::text)::numeric >= (s ->> 'exclusiveMaximum')::numeric THEN
            errs := errs || format('%s: not less than %s', path, s ->> 'exclusiveMaximum');
        END IF;
    END IF;
    IF s ? 'allOf' THEN
        FOR e IN SELECT value FROM jsonb_array_elements(s -> 'allOf') LOOP
            errs := errs || @extschema@._pgkeel_jsonschema_errors(e, v, path);
        END LOOP;
    END IF;
    IF s ? 'anyOf' AND NOT EXISTS (SELECT FROM jsonb_array_elements(s -> 'anyOf') x
                                   WHERE cardinality(@extschema@._pgkeel_jsonschema_errors(x, v, path)) = 0) THEN
        errs := errs || format('%s: matches none of anyOf', path);
    END IF;
    IF s ? 'oneOf' AND (SELECT count(*) FROM jsonb_array_elements(s -> 'oneOf') x
                        WHERE cardinality(@extschema@._pgkeel_jsonschema_errors(x, v, path)) = 0) <> 1 THEN
        errs := errs || format('%s: does not match exactly one of oneOf', path);
    END IF;
    IF s ? 'not' AND cardinality(@extschema@._pgkeel_jsonschema_errors(s -> 'not', v, path)) = 0 THEN
        errs := errs || format('%s: matches the "not" schema', path);
    END IF;
    RETURN errs;
END
$fn$;
CREATE FUNCTION @extschema@.jsonschema_validation_errors(schema json, instance json) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT @extschema@._pgkeel_jsonschema_errors(schema::jsonb, instance::jsonb, '') $fn$;
CREATE FUNCTION @extschema@.json_matches_schema(schema json, instance json) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT cardinality(@extschema@._pgkeel_jsonschema_errors(schema::jsonb, instance::jsonb, '')) = 0 $fn$;
CREATE FUNCTION @extschema@.jsonb_matches_schema(schema json, instance jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT cardinality(@extschema@._pgkeel_jsonschema_errors(schema::jsonb, instance, '')) = 0 $fn$;
-- A schema is valid when it is an object or boolean whose keywords (at every level) the stand-in
-- implements and whose types are right; an unknown keyword raises rather than answering.
CREATE FUNCTION @extschema@.jsonschema_is_valid(schema json) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
    todo jsonb[] := ARRAY[schema::jsonb];
    s jsonb;
BEGIN
    WHILE cardinality(todo) > 0 LOOP
        s := todo[1];
        todo := todo[2:];
        CONTINUE WHEN jsonb_typeof(s) = 'boolean';
        IF jsonb_typeof(s) <> 'object' THEN
            RETURN false;
        END IF;
        -- raises on an unknown keyword
        PERFORM @extschema@._pgkeel_jsonschema_errors(s, 'null'::jsonb, '');
        IF (s ? 'properties' AND jsonb_typeof(s -> 'properties') <> 'object')
           OR (s ? 'required' AND jsonb_typeof(s -> 'required') <> 'array')
           OR (s ? 'enum' AND jsonb_typeof(s -> 'enum') <> 'array') THEN
            RETURN false;
        END IF;
        todo := todo || ARRAY(SELECT value FROM jsonb_each(coalesce(s -> 'properties', '{}')))
                     || ARRAY(SELECT s -> k FROM unnest(ARRAY['additionalProperties', 'items', 'not']) k WHERE s ? k)
                     || ARRAY(SELECT value FROM unnest(ARRAY['allOf', 'anyOf', 'oneOf']) k, jsonb_array_elements(coalesce(s -> k, '[]')));
    END LOOP;
    RETURN true;
END
$fn$;
