-- A group message waiting for offline member devices is one row: its frame
-- once, and one bit per member device that still waits (not a queue row per
-- device, whose heap tuple and index entries alone cost over 200 bytes).
-- Each member device gets a slot in the group the first time a group message
-- waits for it; bit `slot` of `waiting` is that device's. A slot is taken
-- again only after its device went, and with it every bit it had set.

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
-- for: rows only it still waited for go with it.
CREATE FUNCTION parley_slot_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE group_queue SET waiting = parley_set_bits(waiting, ARRAY[OLD.slot], 0)
    WHERE group_id = OLD.group_id AND parley_waits(waiting, OLD.slot);
    DELETE FROM group_queue
    WHERE group_id = OLD.group_id AND position(B'1' IN waiting) = 0;
    RETURN OLD;
END $$;
CREATE TRIGGER group_slot_gone BEFORE DELETE ON group_slots
    FOR EACH ROW EXECUTE FUNCTION parley_slot_gone();

-- Rows of the earlier scheme (a body shared by per-device rows) keep their
-- frame in their own row, as every other queue row does.
UPDATE queue q SET frame = b.frame FROM queue_bodies b
WHERE q.frame IS NULL AND b.sender_id = q.sender_id AND b.row_id = q.row_id;
DELETE FROM queue WHERE frame IS NULL;
DROP INDEX queue_shared;
ALTER TABLE queue ALTER COLUMN frame SET NOT NULL;
DROP TABLE queue_bodies;
