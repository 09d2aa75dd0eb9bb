-- Break-glass (issue 17): a grant's source, and each use of break-glass with the review it owes.

-- Activated by breaking glass: no approval, a review afterwards. Check, the audit log and the
-- console show it as the grant's source.
ALTER TABLE grants ADD COLUMN break_glass boolean NOT NULL DEFAULT false;

-- One use of break-glass. The whole record (reviewers, overridden rules, the review) is kept as
-- the domain wrote it; the columns beside it are what listings filter and order by.
CREATE TABLE break_glass_uses (
    id uuid PRIMARY KEY,
    subject text NOT NULL,
    elevation_id uuid NOT NULL REFERENCES elevations (id),
    grant_id uuid NOT NULL REFERENCES grants (id),
    used_at timestamptz NOT NULL,
    review_due_at timestamptz NOT NULL,
    reviewed boolean NOT NULL,
    record jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    revision bigint NOT NULL
);
CREATE INDEX break_glass_uses_by_subject ON break_glass_uses (subject, id DESC);
CREATE INDEX break_glass_uses_unreviewed ON break_glass_uses (review_due_at) WHERE NOT reviewed;

-- Every Check a break-glass grant allowed: the evidence its review shows. The decision log is a
-- sampled file and cannot be queried, so these are kept here, at most 1,000 per grant (the
-- evidence says when the cap was reached).
CREATE TABLE break_glass_checks (
    id bigserial PRIMARY KEY,
    grant_id uuid NOT NULL REFERENCES grants (id),
    at timestamptz NOT NULL,
    session_id text,
    permission text NOT NULL,
    resource text NOT NULL,
    request_id text
);
CREATE INDEX break_glass_checks_by_grant ON break_glass_checks (grant_id, id);
