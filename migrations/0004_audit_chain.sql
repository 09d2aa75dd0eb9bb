-- The audit log becomes a hash chain: each event carries the SHA-256 of its canonical encoding
-- (which includes the previous event's hash), and the head row keeps the chain's last hash.
-- Every deployment applies this before its first write, so the log is empty here.
ALTER TABLE elevator_head ADD COLUMN audit_hash bytea NOT NULL
    DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE audit_events ADD COLUMN request_id text;
ALTER TABLE audit_events ADD COLUMN trace_id text;
ALTER TABLE audit_events ADD COLUMN prev_hash bytea NOT NULL;
ALTER TABLE audit_events ADD COLUMN hash bytea NOT NULL;
CREATE INDEX audit_events_by_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_by_action ON audit_events (action, seq);
CREATE INDEX audit_events_by_time ON audit_events (at);

-- Append-only, as a second line behind the runtime role's privileges (INSERT and SELECT only):
-- no update, delete or truncate of audit rows, whoever asks.
CREATE FUNCTION elevator_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION elevator_refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION elevator_refuse_audit_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;

-- Signed chain heads, kept so a copy elsewhere can prove the log was not rewritten later.
CREATE TABLE audit_checkpoints (
    seq bigint PRIMARY KEY,
    hash bytea NOT NULL,
    revision bigint NOT NULL,
    signed_at timestamptz NOT NULL,
    public_key bytea NOT NULL,
    signature bytea NOT NULL
);
