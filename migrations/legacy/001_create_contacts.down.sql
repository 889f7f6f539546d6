DROP TABLE contacts;
DROP TYPE contact_status;
