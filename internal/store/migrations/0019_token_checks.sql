-- When gitrelay last asked the host whether a saved personal access token
-- still works (the periodic token check, or the save that validated it):
-- the check takes the tokens checked longest ago first, each at most once
-- per interval. Tokens saved before start as checked when last validated.

ALTER TABLE user_tokens ADD COLUMN checked_at BIGINT NOT NULL DEFAULT 0;
UPDATE user_tokens SET checked_at = COALESCE(validated_at, updated_at);
CREATE INDEX user_tokens_checked ON user_tokens (checked_at);
