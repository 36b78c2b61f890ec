-- Integrations include either every repository the integration account can
-- see or a chosen subset.
--
-- JSON array of the host's repository ids; NULL = every repository the
-- integration account can see ("[]" includes none). Existing integrations
-- read back as NULL, so they keep including everything.

ALTER TABLE integrations ADD COLUMN repositories TEXT;
