-- Delegations that need approval wait as elevations carrying their terms; approvers who
-- delegated the role along the chain (or receive it) are excluded.
ALTER TABLE elevations ADD COLUMN delegation jsonb;
ALTER TABLE elevations ADD COLUMN excluded_approvers jsonb NOT NULL DEFAULT '[]';

-- The nearest delegator of a delegated grant, for "given by me" listings.
ALTER TABLE grants ADD COLUMN delegated_by text;
CREATE INDEX grants_by_delegator ON grants (delegated_by) WHERE delegated_by IS NOT NULL;

-- Webhook deliveries, written in the same transaction as the change they announce and
-- delivered (at least once) by any replica.
CREATE TABLE webhook_outbox (
    id bigserial PRIMARY KEY,
    url text NOT NULL,
    event_kind text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until timestamptz,
    delivered_at timestamptz,
    abandoned_at timestamptz,
    last_error text,
    revision bigint NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
