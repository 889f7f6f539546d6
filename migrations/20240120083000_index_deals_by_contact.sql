-- Building an index CONCURRENTLY cannot run in a transaction: pgkeel runs it on its own,
-- between the transactional statements before and after it, and records progress per segment.
ALTER TABLE deals ADD COLUMN owner_email text;
CREATE INDEX CONCURRENTLY deals_contact_id_idx ON deals (contact_id);
COMMENT ON INDEX deals_contact_id_idx IS 'Speeds up contact_activity';
