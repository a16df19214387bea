-- Profile photos with who-can-see privacy, and blocking people.

-- Who may see the profile photo, like last_seen_visibility.
ALTER TABLE users
    ADD COLUMN photo_visibility text NOT NULL DEFAULT 'everyone'
        CHECK (photo_visibility IN ('everyone', 'contacts', 'nobody'));

-- One photo per user, small (the browser crops and scales it), served only
-- to those the owner's setting allows. `etag` is a hash of `bytes`.
CREATE TABLE user_photos (
    user_id      uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes        bytea NOT NULL,
    etag         text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- `blocker` no longer receives `blocked`'s messages, calls, typing and
-- presence; `blocked` no longer sees `blocker`'s presence and photo.
CREATE TABLE blocks (
    blocker    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker, blocked),
    CHECK (blocker <> blocked)
);
-- Deleting an account cascades here by `blocked` too.
CREATE INDEX blocks_blocked ON blocks(blocked);

-- The one decision behind every "who may see" setting (last seen, profile
-- photo): whether `viewer` may see what `owner` shows to `setting`
-- ('everyone', 'contacts': the people the owner added to their contacts,
-- 'nobody'; anything else counts as 'nobody'). Someone the owner blocked
-- sees nothing. Whether owners see their own is the caller's choice.
CREATE FUNCTION may_see(setting text, owner uuid, viewer uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = owner AND b.blocked = viewer)
       AND CASE setting
               WHEN 'everyone' THEN true
               WHEN 'contacts' THEN EXISTS (
                   SELECT 1 FROM contacts c WHERE c.owner_id = owner AND c.contact_id = viewer)
               ELSE false
           END
$$;
