-- The visitor's locale (a BCP 47 tag such as `nl-NL`): the language of the emails they receive.
ALTER TABLE meetings ADD COLUMN lead_locale TEXT;
