-- Who has written to whom: a row per ordered pair, written once, the first
-- time `from_id` sends to `to_id`. With the contacts table it says whether a
-- sender is a stranger to a recipient (see delivery::acquaintances). No
-- foreign keys: the rows are written in batches off the send path, and a
-- pair naming a deleted account is harmless.
CREATE TABLE conversations (
    from_id uuid NOT NULL,
    to_id   uuid NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
