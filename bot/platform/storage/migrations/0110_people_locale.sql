-- The language Teams last sent for a person (its `locale`, e.g. "de-DE"), so proactive sends speak it too.
ALTER TABLE user_prefs ADD COLUMN locale TEXT;
