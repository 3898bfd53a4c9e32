-- A meeting's room (a resource attendee) and its answer; who created it through the meetings API (NULL from Teams).
ALTER TABLE meetings ADD COLUMN room_email TEXT;
ALTER TABLE meetings ADD COLUMN room_name TEXT;
ALTER TABLE meetings ADD COLUMN room_response TEXT;
ALTER TABLE meetings ADD COLUMN caller TEXT;
