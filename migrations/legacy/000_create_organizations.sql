-- Organizations own contacts and deals.
CREATE TABLE organizations (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL,
    domain     text        UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE organizations IS 'Companies we sell to';

-- pgkeel:down
DROP TABLE organizations;
