-- Meetings Courier created for an organizer (the calendar event lives in their mailbox; this is Courier's view of it
-- and where its card is). transaction_id is the Graph transactionId: a retried creation maps to the same row.
CREATE TABLE meetings (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    organizer_id     TEXT NOT NULL,
    organizer_name   TEXT,
    event_id         TEXT NOT NULL,
    transaction_id   TEXT NOT NULL UNIQUE,
    subject          TEXT NOT NULL,
    start_at         TEXT NOT NULL,
    end_at           TEXT NOT NULL,
    zone             TEXT NOT NULL,
    attendees        TEXT NOT NULL,
    join_url         TEXT,
    status           TEXT NOT NULL,
    conversation_id  TEXT,
    card_activity_id TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX meetings_by_organizer ON meetings (tenant_id, organizer_id, status, start_at);
CREATE INDEX meetings_by_event ON meetings (event_id);
