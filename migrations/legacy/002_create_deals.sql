CREATE TABLE deals (
    id         bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id bigint        NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    title      text          NOT NULL,
    amount     numeric(12,2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
    stage      text          NOT NULL DEFAULT 'new',
    closed_at  timestamptz,
    created_at timestamptz   NOT NULL DEFAULT now()
);
