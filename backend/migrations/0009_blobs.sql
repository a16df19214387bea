-- Encrypted attachments. Their ciphertext lives in chunks outside
-- PostgreSQL (a directory or an S3-compatible store); here is only what
-- authorises and accounts for them. The server never learns a file's name,
-- type or key: those travel inside the end-to-end encrypted message.
--
-- No foreign keys to users or devices: a blob outlives neither its
-- retention nor its readers' fetches, and deleting its row must go with
-- deleting its chunks, which the expiry sweep does (a cascade could not).
CREATE TABLE blobs (
    id             uuid PRIMARY KEY,
    -- Counted against this account's quota; its devices may read the blob.
    owner_user     uuid NOT NULL,
    -- The only device that may write chunks, grant readers or cancel.
    owner_device   uuid NOT NULL,
    size           bigint NOT NULL CHECK (size > 0),
    chunks         integer NOT NULL CHECK (chunks > 0),
    -- One bit per chunk received (bit n is get_bit(received, n)).
    received       bytea NOT NULL,
    received_count integer NOT NULL DEFAULT 0 CHECK (received_count BETWEEN 0 AND chunks),
    -- Devices granted reading, and how many of them have not fetched it:
    -- at 0 of more than 0 the blob is deleted.
    readers        integer NOT NULL DEFAULT 0 CHECK (readers >= 0),
    unfetched      integer NOT NULL DEFAULT 0 CHECK (unfetched BETWEEN 0 AND readers),
    created_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    -- Retention from creation, and again from completion; '-infinity' once
    -- doomed (cancelled, or fetched by every reader), until the chunks are
    -- deleted.
    expires_at     timestamptz NOT NULL
);
CREATE INDEX blobs_owner_user ON blobs(owner_user);
CREATE INDEX blobs_expires_at ON blobs(expires_at);

-- Devices that were sent the message referring to a blob: they may read
-- it, and once all of them fetched it, it is deleted.
CREATE TABLE blob_readers (
    blob_id   uuid NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
    device_id uuid NOT NULL,
    fetched   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (blob_id, device_id)
);
