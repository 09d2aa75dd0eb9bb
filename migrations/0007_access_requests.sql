-- The AuthZEN Access Request and Approval profile (issue 15): requestable denials a PEP binds a
-- request to by evaluation id, and access requests (the profile's tasks) pointing at the
-- elevations their items became. Elevations are not changed; these rows point at them.
CREATE TABLE requestable_denials (
    evaluation_id text COLLATE "C" PRIMARY KEY,
    record jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    expires_at timestamptz NOT NULL
);
CREATE INDEX requestable_denials_by_expiry ON requestable_denials (expires_at);

CREATE TABLE access_requests (
    task_id text COLLATE "C" PRIMARY KEY,
    submitted_by text NOT NULL,
    idempotency_key text,
    record jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    created_at timestamptz NOT NULL,
    UNIQUE (submitted_by, idempotency_key)
);
-- Finds a request by an item's approval id or elevation id (`record->'items' @> ...`).
CREATE INDEX access_requests_items ON access_requests USING gin ((record -> 'items') jsonb_path_ops);
