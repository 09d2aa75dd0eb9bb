-- An elevation may ask to lengthen an active grant instead of creating one.
ALTER TABLE elevations ADD COLUMN extends_grant uuid REFERENCES grants (id);

-- Elevations whose grant was revoked (by a session end, say) are found by the sweep.
CREATE INDEX grants_revoked ON grants (id) WHERE revoked_at IS NOT NULL;
