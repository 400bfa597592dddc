-- The id of the transaction that wrote an activity: PostgreSQL orders its feed by it (see
-- store/activities.rs, `FeedCursor`). SQLite has one writer, so its feed stays in `seq` order and this stays
-- NULL.
ALTER TABLE activities ADD COLUMN txid INTEGER;
