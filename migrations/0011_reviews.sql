-- Access review campaigns and their items. A campaign and an item are each kept whole as JSON
-- (the domain's own shape: what the campaign saw, its reviewers, evidence and decision); the
-- columns beside are what the store selects and orders by.
CREATE TABLE review_campaigns (
    id uuid PRIMARY KEY,
    -- The policy's campaign definition it was started from (schedules look up the latest).
    name text NOT NULL,
    started_at timestamptz NOT NULL,
    body jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object')
);
CREATE INDEX review_campaigns_by_name ON review_campaigns (name, started_at DESC);

CREATE TABLE review_items (
    id uuid PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES review_campaigns (id),
    deadline timestamptz NOT NULL,
    decided boolean NOT NULL,
    body jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object')
);
CREATE INDEX review_items_by_campaign ON review_items (campaign_id, id);
-- The sweeper's question: which undecided items are past their deadline.
CREATE INDEX review_items_due ON review_items (deadline) WHERE NOT decided;
