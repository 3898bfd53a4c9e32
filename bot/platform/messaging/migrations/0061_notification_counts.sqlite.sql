-- A notification's figures without counting its deliveries: every change of a delivery's state (and reason), and
-- every engagement event, appends a +1/-1 row to notification_count_changes (append-only, so concurrent writers never
-- wait on one counter row); the ledger folds them into notification_counts now and then and whenever it reads.
-- Rows whose state starts with '@' are engagement: '@clicked', '@acknowledged', and '@read' (reason = the
-- time-to-read histogram bucket).
CREATE TABLE notification_counts (
    notification_id TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (notification_id, state, reason)
);
CREATE TABLE notification_count_changes (
    notification_id TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    n               INTEGER NOT NULL
);
CREATE INDEX notification_count_changes_by_notification ON notification_count_changes (notification_id);
CREATE INDEX deliveries_sent_at ON deliveries (notification_id, sent_at);

CREATE TRIGGER deliveries_counted_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO notification_count_changes VALUES (NEW.notification_id, NEW.state, COALESCE(NEW.reason, ''), 1);
END;
CREATE TRIGGER deliveries_counted_update AFTER UPDATE OF state, reason ON deliveries
WHEN OLD.state IS NOT NEW.state OR COALESCE(OLD.reason, '') IS NOT COALESCE(NEW.reason, '') BEGIN
    INSERT INTO notification_count_changes VALUES (OLD.notification_id, OLD.state, COALESCE(OLD.reason, ''), -1);
    INSERT INTO notification_count_changes VALUES (NEW.notification_id, NEW.state, COALESCE(NEW.reason, ''), 1);
END;
CREATE TRIGGER deliveries_counted_delete AFTER DELETE ON deliveries BEGIN
    INSERT INTO notification_count_changes VALUES (OLD.notification_id, OLD.state, COALESCE(OLD.reason, ''), -1);
END;
CREATE TRIGGER deliveries_counted_read AFTER UPDATE OF read_at ON deliveries
WHEN OLD.read_at IS NULL AND NEW.read_at IS NOT NULL BEGIN
    INSERT INTO notification_count_changes VALUES (NEW.notification_id, '@read', COALESCE(CAST(NEW.read_bucket AS TEXT), '0'), 1);
END;
CREATE TRIGGER deliveries_counted_clicked AFTER UPDATE OF clicked_at ON deliveries
WHEN OLD.clicked_at IS NULL AND NEW.clicked_at IS NOT NULL BEGIN
    INSERT INTO notification_count_changes VALUES (NEW.notification_id, '@clicked', '', 1);
END;
CREATE TRIGGER acknowledgements_counted AFTER INSERT ON acknowledgements BEGIN
    INSERT INTO notification_count_changes VALUES (NEW.notification_id, '@acknowledged', '', 1);
END;

INSERT INTO notification_counts (notification_id, state, reason, n)
SELECT notification_id, state, COALESCE(reason, ''), COUNT(*) FROM deliveries GROUP BY notification_id, state, COALESCE(reason, '');
INSERT INTO notification_counts (notification_id, state, reason, n)
SELECT notification_id, '@read', COALESCE(CAST(read_bucket AS TEXT), '0'), COUNT(*) FROM deliveries
WHERE read_at IS NOT NULL GROUP BY notification_id, COALESCE(CAST(read_bucket AS TEXT), '0');
INSERT INTO notification_counts (notification_id, state, reason, n)
SELECT notification_id, '@clicked', '', COUNT(*) FROM deliveries WHERE clicked_at IS NOT NULL GROUP BY notification_id;
INSERT INTO notification_counts (notification_id, state, reason, n)
SELECT notification_id, '@acknowledged', '', COUNT(*) FROM acknowledgements GROUP BY notification_id;
