CREATE TABLE pipeline_stages (
    name     text    PRIMARY KEY,
    position integer NOT NULL UNIQUE
);
INSERT INTO pipeline_stages (name, position) VALUES
    ('new', 1), ('qualified', 2), ('proposal', 3), ('won', 4), ('lost', 5);

ALTER TABLE deals
    ADD CONSTRAINT deals_stage_fkey FOREIGN KEY (stage) REFERENCES pipeline_stages (name);

DO $$
BEGIN
    IF (SELECT count(*) FROM pipeline_stages) <> 5 THEN
        RAISE EXCEPTION 'expected 5 pipeline stages';
    END IF;
END
$$;

-- pgkeel:down
ALTER TABLE deals DROP CONSTRAINT deals_stage_fkey;
DROP TABLE pipeline_stages;
