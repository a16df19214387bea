-- A group message waiting for offline member devices is one row: its frame
-- once, and one bit per member device that still waits (not a queue row per
-- device, whose heap tuple and index entries alone cost over 200 bytes).
-- Each member device gets a slot in the group the first time a group message
-- waits for it: the lowest number free; bit `slot` of `waiting` is that
-- device's. A slot is free again once its device went, and with it every
-- bit it had set (the trigger below).

CREATE TABLE group_slots (
    group_id  uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    device_id uuid NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    slot      integer NOT NULL,
    PRIMARY KEY (group_id, device_id),
    UNIQUE (group_id, slot)
);
-- A device's drain starts from its slots.
CREATE INDEX group_slots_device ON group_slots (device_id);

CREATE TABLE group_queue (
    group_id   uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    row_id     uuid NOT NULL,
    seq        bigint NOT NULL,
    sender_id  uuid NOT NULL,
    frame      bytea NOT NULL,
    waiting    bit varying NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at bigint,
    PRIMARY KEY (group_id, row_id)
);
CREATE INDEX group_queue_drain ON group_queue (group_id, seq);
-- Acks name the message id only.
CREATE INDEX group_queue_row ON group_queue (row_id);
CREATE INDEX group_queue_expiry ON group_queue (created_at);
CREATE INDEX group_queue_expires_at ON group_queue (expires_at) WHERE expires_at IS NOT NULL;

-- `bits` with each of `slots` set to `value`, grown as needed to hold a set
-- bit (bit strings of different lengths cannot be combined otherwise).
CREATE FUNCTION parley_set_bits(bits bit varying, slots integer[], value integer)
RETURNS bit varying LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    s integer;
BEGIN
    FOREACH s IN ARRAY slots LOOP
        IF s >= length(bits) THEN
            IF value = 0 THEN
                CONTINUE;
            END IF;
            bits := bits || repeat('0', s + 1 - length(bits))::bit varying;
        END IF;
        bits := set_bit(bits, s, value);
    END LOOP;
    RETURN bits;
END $$;

-- Both sets of bits, the shorter padded with zeros.
CREATE FUNCTION parley_bits_or(a bit varying, b bit varying)
RETURNS bit varying LANGUAGE sql IMMUTABLE AS $$
    SELECT (a || repeat('0', greatest(length(b) - length(a), 0))::bit varying)
         | (b || repeat('0', greatest(length(a) - length(b), 0))::bit varying)
$$;

-- Whether the device in `slot` waits for this row.
CREATE FUNCTION parley_waits(bits bit varying, slot integer)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT slot < length(bits) AND get_bit(bits, slot) = 1
$$;

-- A device that goes (signed out, its account deleted) stops being waited
-- for: its bits are cleared, and rows only it still waited for go with it.
-- Once per statement (a revocation, an idle sweep), its rows locked in the
-- order the queue writer locks them.
CREATE FUNCTION parley_slots_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM group_queue g
    JOIN gone_slots s ON s.group_id = g.group_id
    WHERE parley_waits(g.waiting, s.slot)
    ORDER BY g.group_id, g.row_id
    FOR NO KEY UPDATE OF g;
    UPDATE group_queue g SET waiting = parley_set_bits(g.waiting, gone.slots, 0)
    FROM (SELECT group_id, array_agg(slot) AS slots FROM gone_slots GROUP BY group_id) gone
    WHERE g.group_id = gone.group_id
      AND EXISTS (SELECT 1 FROM unnest(gone.slots) AS s(slot) WHERE parley_waits(g.waiting, s.slot));
    DELETE FROM group_queue
    WHERE group_id IN (SELECT group_id FROM gone_slots) AND position(B'1' IN waiting) = 0;
    RETURN NULL;
END $$;
CREATE TRIGGER group_slots_gone AFTER DELETE ON group_slots
    REFERENCING OLD TABLE AS gone_slots
    FOR EACH STATEMENT EXECUTE FUNCTION parley_slots_gone();

-- Rows of the earlier scheme (a body shared by frameless per-device rows)
-- get their frame in their own row. Nodes of the version before may still
-- write such rows during a rolling update, so `queue_bodies` stays, read
-- and cleaned up by this version, until the release after this one drops
-- it (with `queue_shared`) and makes `queue.frame` NOT NULL again.
UPDATE queue q SET frame = b.frame FROM queue_bodies b
WHERE q.frame IS NULL AND b.sender_id = q.sender_id AND b.row_id = q.row_id;
