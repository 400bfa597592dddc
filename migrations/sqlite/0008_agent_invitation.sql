-- An agent's own invitation text (minijinja templates); NULL: the default templates.
ALTER TABLE agents ADD COLUMN invitation_subject TEXT;
ALTER TABLE agents ADD COLUMN invitation_body TEXT;
