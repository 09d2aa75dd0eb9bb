-- A delegated grant from a session-bound delegation entry waits, bound to no session, until its
-- delegatee takes it up in one of their login sessions; it allows nothing while it waits, and
-- once taken up it carries that session in session_id and ends with it.
ALTER TABLE grants ADD COLUMN awaiting_acceptance boolean NOT NULL DEFAULT false;

-- Delegated grants written before this migration were bound to no session and counted in every
-- session of their delegatee. Fail closed: the live ones now wait to be taken up like new ones.
-- (A policy entry with `session_binding: none` only applies to delegations made after it.)
UPDATE grants SET awaiting_acceptance = true
WHERE delegated_by IS NOT NULL AND session_id IS NULL AND revoked_at IS NULL;

ALTER TABLE grants ADD CONSTRAINT grants_accepted_is_bound
    CHECK (NOT (awaiting_acceptance AND session_id IS NOT NULL));
