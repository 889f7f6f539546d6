CREATE TYPE contact_status AS ENUM ('lead', 'customer', 'churned');

CREATE TABLE contacts (
    id              bigint         GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id uuid           REFERENCES organizations (id) ON DELETE SET NULL,
    email           text           NOT NULL UNIQUE CHECK (position('@' IN email) > 1),
    full_name       text           NOT NULL,
    status          contact_status NOT NULL DEFAULT 'lead',
    created_at      timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX contacts_organization_id_idx ON contacts (organization_id);
