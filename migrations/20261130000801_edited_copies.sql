-- Edited copies (issue 17, "Edit and replay"): a capture edited in the dashboard is stored as a
-- new capture of the same endpoint, beside the original, which is never changed. This column
-- names the original; it is informational (no foreign key: retention may delete the original
-- first, and the copy then says so). NULL for everything received from a sender.
ALTER TABLE requests ADD COLUMN edited_from uuid;
