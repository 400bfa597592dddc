-- The id of the transaction that wrote an activity. Transactions take `seq` numbers in one order and commit
-- in another, so a feed read in `seq` order could hand out a cursor past a row that commits later, and that
-- row would never be read. The feed is read in (txid, seq) order instead, and only up to the oldest
-- transaction still running (store/activities.rs, `FeedCursor`).
ALTER TABLE activities
    ADD COLUMN txid bigint NOT NULL DEFAULT CAST(CAST(pg_current_xact_id() AS text) AS bigint);
CREATE INDEX activities_by_txid ON activities (txid, seq);
