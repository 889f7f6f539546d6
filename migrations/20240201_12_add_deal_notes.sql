ALTER TABLE deals ADD COLUMN notes text;
