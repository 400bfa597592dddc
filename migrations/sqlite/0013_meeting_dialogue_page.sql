-- The chat's dialogue name and the page it ran on, as the booking gave them: repeated in the meeting's
-- activities (marketing automation's "Scheduled Meeting" carries both).
ALTER TABLE meetings ADD COLUMN dialogue_name TEXT;
ALTER TABLE meetings ADD COLUMN page_url TEXT;
