-- Browsers that have signed in to an account before. A sign-in that presents
-- one (an HttpOnly cookie) is not held back by the account-wide limit on
-- failed sign-ins, so an attacker guessing passwords cannot lock the owner
-- out (see docs/architecture.md, "Sign-in limits").
-- One cookie per browser, one row per account it signed in to.
CREATE TABLE known_browsers (
    token_hash bytea NOT NULL,                    -- SHA-256 of the cookie; the cookie itself is never stored
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_hash, user_id)
);
CREATE INDEX known_browsers_user_id ON known_browsers(user_id, created_at);

-- Idle devices expire (--device-idle-days); the expiry job finds them by this.
CREATE INDEX devices_last_active_at ON devices(last_active_at);
