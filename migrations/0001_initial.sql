-- The head row: the revision counter and the audit sequence. Every write transaction bumps it
-- as its last step, so revisions are gapless and commit in order (a replica that has seen the
-- notification for revision N has seen every write up to N).
CREATE TABLE elevator_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision bigint NOT NULL,
    audit_seq bigint NOT NULL
);
INSERT INTO elevator_head (singleton, revision, audit_seq) VALUES (true, 0, 0);

CREATE TABLE policies (
    version bigint PRIMARY KEY CHECK (version > 0),
    source text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    revision bigint NOT NULL
);

CREATE TABLE elevations (
    id uuid PRIMARY KEY,
    requester text NOT NULL,
    session_id text,
    role text NOT NULL,
    scope text NOT NULL,
    duration_ms bigint NOT NULL CHECK (duration_ms > 0),
    reason text NOT NULL,
    ticket text,
    state text NOT NULL CHECK (state IN ('PENDING', 'APPROVED', 'SCHEDULED', 'ACTIVE', 'EXPIRED',
                                         'REVOKED', 'DENIED', 'CANCELLED', 'TIMED_OUT')),
    state_reason text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    request_expires_at timestamptz NOT NULL,
    not_before timestamptz,
    steps jsonb NOT NULL,
    votes jsonb NOT NULL,
    requester_claims jsonb NOT NULL,
    policy_version bigint NOT NULL,
    grant_id uuid,
    idempotency_key text,
    revision bigint NOT NULL
);
CREATE UNIQUE INDEX elevations_idempotency_key ON elevations (requester, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX elevations_by_requester ON elevations (requester, id DESC);
CREATE INDEX elevations_pending_by_deadline ON elevations (request_expires_at)
    WHERE state = 'PENDING';
CREATE INDEX elevations_live ON elevations (grant_id) WHERE state IN ('SCHEDULED', 'ACTIVE');

CREATE TABLE grants (
    id uuid PRIMARY KEY,
    subject text NOT NULL,
    session_id text,
    role text NOT NULL,
    scope text NOT NULL,
    not_before timestamptz NOT NULL,
    not_after timestamptz NOT NULL CHECK (not_after > not_before),
    elevation_id uuid REFERENCES elevations (id),
    parent_grant_id uuid REFERENCES grants (id),
    delegation_trail jsonb NOT NULL,
    revoked_at timestamptz,
    revoked_by text,
    revoke_reason text,
    revision bigint NOT NULL,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX grants_by_subject ON grants (subject, not_after);
CREATE INDEX grants_by_parent ON grants (parent_grant_id) WHERE parent_grant_id IS NOT NULL;

CREATE TABLE risk_signals (
    id uuid PRIMARY KEY,
    subject text NOT NULL,
    session_id text,
    score integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    flags text[] NOT NULL,
    source text NOT NULL,
    reported_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revision bigint NOT NULL
);
CREATE INDEX risk_signals_by_subject ON risk_signals (subject, expires_at);

CREATE TABLE audit_events (
    seq bigint PRIMARY KEY,
    revision bigint NOT NULL,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    subject text,
    role text,
    scope text,
    elevation_id uuid,
    grant_id uuid,
    reason text NOT NULL,
    ticket text,
    details jsonb NOT NULL,
    policy_version bigint NOT NULL
);
CREATE INDEX audit_events_by_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_by_grant ON audit_events (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX audit_events_by_elevation ON audit_events (elevation_id, seq)
    WHERE elevation_id IS NOT NULL;
