-- The console's and the API's list of notifications: newest first, per sender (or all, for admins).
CREATE INDEX notifications_by_sender ON notifications (sender, created_at, id);
CREATE INDEX notifications_by_created ON notifications (created_at, id);
