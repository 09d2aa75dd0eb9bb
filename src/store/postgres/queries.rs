//! Every SQL statement the PostgreSQL store runs, by name. The schema itself lives in
//! `migrations/`.

/// Columns of `elevations`, in the order [`super::rows::elevation`] reads them.
macro_rules! elevation_columns {
    () => {
        "id, requester, session_id, role, scope, duration_ms, reason, ticket, state, state_reason, \
         created_at, updated_at, request_expires_at, not_before, steps, votes, requester_claims, \
         policy_version, grant_id, idempotency_key, extends_grant, delegation, excluded_approvers"
    };
}

/// Columns of `grants`, in the order [`super::rows::grant`] reads them.
macro_rules! grant_columns {
    () => {
        "id, subject, session_id, role, scope, not_before, not_after, elevation_id, \
         parent_grant_id, delegation_trail, revoked_at, revoked_by, revoke_reason, delegated_by, \
         awaiting_acceptance, break_glass"
    };
}

/// Columns of `risk_signals`, in the order [`super::rows::risk_signal`] reads them.
macro_rules! risk_columns {
    () => {
        "id, subject, session_id, score, flags, source, reported_at, expires_at"
    };
}

/// Bumps the revision and reserves `$1` audit sequence numbers, and notifies the other replicas
/// that the subjects `$4` (or, when `$3`, everyone), when `$2` the policy and when `$5` the
/// directory changed (the entities `$6`, as `type/id`, or anywhere when `$6` is empty). The
/// notification is delivered when (and only if) the transaction commits; the row lock is held to
/// commit, which orders commits by revision.
pub(super) const BUMP_REVISION_AND_NOTIFY: &str = "\
    WITH head AS ( \
        UPDATE elevator_head SET revision = revision + 1, audit_seq = audit_seq + $1 \
        RETURNING revision, audit_seq, audit_hash \
    ) \
    SELECT head.revision, head.audit_seq, head.audit_hash, pg_notify('elevator_changes', json_build_object( \
        'r', head.revision, 'p', $2::bool, 'a', $3::bool, 's', $4::text[], 'd', $5::bool, \
        'k', $6::text[], 't', extract(epoch from clock_timestamp()))::text) \
    FROM head";

pub(super) const CURRENT_REVISION: &str = "SELECT revision FROM elevator_head";

pub(super) const LOCK_HEAD: &str = "SELECT revision FROM elevator_head FOR UPDATE";

pub(super) const UPSERT_ELEVATION: &str = concat!(
    "INSERT INTO elevations (",
    elevation_columns!(),
    ", revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21, $22, $23, $24) \
     ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, state_reason = EXCLUDED.state_reason, \
     updated_at = EXCLUDED.updated_at, votes = EXCLUDED.votes, grant_id = EXCLUDED.grant_id, \
     revision = EXCLUDED.revision"
);

pub(super) const UPSERT_GRANT: &str = concat!(
    "INSERT INTO grants (",
    grant_columns!(),
    ", revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
     $16, $17) \
     ON CONFLICT (id) DO UPDATE SET not_after = EXCLUDED.not_after, \
     session_id = EXCLUDED.session_id, awaiting_acceptance = EXCLUDED.awaiting_acceptance, \
     revoked_at = EXCLUDED.revoked_at, revoked_by = EXCLUDED.revoked_by, \
     revoke_reason = EXCLUDED.revoke_reason, revision = EXCLUDED.revision"
);

pub(super) const INSERT_RISK_SIGNAL: &str = concat!(
    "INSERT INTO risk_signals (",
    risk_columns!(),
    ", revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);

pub(super) const INSERT_POLICY: &str = "\
    INSERT INTO policies (version, source, created_by, created_at, revision) \
    VALUES ($1, $2, $3, $4, $5)";

pub(super) const INSERT_AUDIT_EVENT: &str = "\
    INSERT INTO audit_events (seq, revision, at, actor, action, subject, role, scope, \
        elevation_id, grant_id, reason, ticket, details, policy_version, request_id, trace_id, \
        prev_hash, hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// Moves the chain head to the last appended event.
pub(super) const SET_AUDIT_HEAD: &str = "UPDATE elevator_head SET audit_hash = $1";

pub(super) const ELEVATION_BY_IDEMPOTENCY_KEY: &str = concat!(
    "SELECT ",
    elevation_columns!(),
    " FROM elevations WHERE requester = $1 AND idempotency_key = $2"
);

pub(super) const ELEVATION_BY_ID: &str = concat!(
    "SELECT ",
    elevation_columns!(),
    " FROM elevations WHERE id = $1"
);

pub(super) const ELEVATION_BY_ID_FOR_UPDATE: &str = concat!(
    "SELECT ",
    elevation_columns!(),
    " FROM elevations WHERE id = $1 FOR UPDATE"
);

pub(super) const ELEVATIONS_BY_IDS_FOR_UPDATE: &str = concat!(
    "SELECT ",
    elevation_columns!(),
    " FROM elevations WHERE id = ANY($1) ORDER BY id FOR UPDATE"
);

/// Serializes writes that look at one subject's grants as a whole (separation of duties).
pub(super) const LOCK_SUBJECT: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('subject:' || $1, 0))";

pub(super) const LIST_ELEVATIONS: &str = concat!(
    "SELECT ",
    elevation_columns!(),
    " FROM elevations \
     WHERE ($1::text IS NULL OR requester = $1) \
       AND ($2::text IS NULL OR state = $2) \
       AND ($3::text IS NULL OR role = $3) \
       AND ($4::uuid IS NULL OR id < $4) \
     ORDER BY id DESC LIMIT $5"
);

pub(super) const DUE_ELEVATIONS: &str = "\
    SELECT id FROM ( \
        (SELECT id FROM elevations WHERE state = 'PENDING' AND request_expires_at <= $1 LIMIT $2) \
        UNION ALL \
        (SELECT e.id FROM elevations e JOIN grants g ON g.id = e.grant_id \
         WHERE (e.state = 'SCHEDULED' AND g.not_before <= $1) \
            OR (e.state = 'ACTIVE' AND g.not_after <= $1) \
            OR (e.state IN ('SCHEDULED', 'ACTIVE') AND g.revoked_at IS NOT NULL) LIMIT $2) \
    ) due LIMIT $2";

pub(super) const GRANT_BY_ID: &str =
    concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");

pub(super) const GRANT_BY_ID_FOR_UPDATE: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE id = $1 FOR UPDATE"
);

/// The requester's live grants, plus the elevation's own grant (`$3`) whatever its state.
pub(super) const REQUESTER_GRANTS: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE (subject = $1 AND revoked_at IS NULL AND not_after > $2) OR id = $3"
);

/// Whose grant `$1` is (to take that subject's lock before the grant's).
pub(super) const GRANT_SUBJECT: &str = "SELECT subject FROM grants WHERE id = $1";

/// The grants delegated from `$1` at any depth that are not revoked, locked.
pub(super) const DESCENDANTS_FOR_UPDATE: &str = concat!(
    "WITH RECURSIVE tree(id) AS ( \
        SELECT id FROM grants WHERE parent_grant_id = $1 \
        UNION SELECT g.id FROM grants g JOIN tree t ON g.parent_grant_id = t.id) \
     SELECT ",
    grant_columns!(),
    " FROM grants WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL ORDER BY id FOR UPDATE"
);

pub(super) const DELEGATIONS_GIVEN_BY: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE delegated_by = $1 \
      AND ($2 OR (revoked_at IS NULL AND not_after > $3)) ORDER BY id DESC LIMIT 1000"
);

pub(super) const DELEGATIONS_GIVEN_TO: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE subject = $1 AND delegated_by IS NOT NULL \
      AND ($2 OR (revoked_at IS NULL AND not_after > $3)) ORDER BY id DESC LIMIT 1000"
);

pub(super) const DELEGATIONS_FROM: &str = concat!(
    "WITH RECURSIVE tree(id) AS ( \
        SELECT id FROM grants WHERE parent_grant_id = $1 \
        UNION SELECT g.id FROM grants g JOIN tree t ON g.parent_grant_id = t.id) \
     SELECT ",
    grant_columns!(),
    " FROM grants WHERE id IN (SELECT id FROM tree) \
      AND ($2 OR (revoked_at IS NULL AND not_after > $3)) ORDER BY id DESC LIMIT 1000"
);

pub(super) const SESSION_GRANTS_FOR_UPDATE: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE subject = $1 AND session_id = $2 \
      AND revoked_at IS NULL AND not_after > $3 ORDER BY id FOR UPDATE"
);

pub(super) const LIST_GRANTS: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE subject = $1 \
      AND ($2 OR (revoked_at IS NULL AND not_after > $3)) ORDER BY id DESC LIMIT 1000"
);

/// The cache load: one statement, so the grants and the revision come from one snapshot.
pub(super) const LOAD_GRANTS: &str = "\
    SELECT h.revision, g.id, g.subject, g.session_id, g.role, g.scope, g.not_before, \
           g.not_after, g.elevation_id, g.parent_grant_id, g.delegation_trail, g.revoked_at, \
           g.revoked_by, g.revoke_reason, g.delegated_by, g.awaiting_acceptance, g.break_glass \
    FROM elevator_head h LEFT JOIN LATERAL ( \
        (SELECT * FROM grants WHERE subject = $1 AND not_after > $2 AND revoked_at IS NULL) \
        UNION ALL \
        (SELECT * FROM grants WHERE subject = $1 AND not_after > $2 AND revoked_at IS NOT NULL \
         ORDER BY revoked_at DESC, id DESC LIMIT $3) \
    ) g ON true";

/// The risk cache load, in one snapshot with the revision.
pub(super) const LOAD_RISK: &str = "\
    SELECT h.revision, r.id, r.subject, r.session_id, r.score, r.flags, r.source, \
           r.reported_at, r.expires_at \
    FROM elevator_head h LEFT JOIN risk_signals r ON r.subject = $1 AND r.expires_at > $2";

pub(super) const LATEST_POLICY: &str = "\
    SELECT version, source, created_by, created_at FROM policies ORDER BY version DESC LIMIT 1";

pub(super) const LATEST_POLICY_BY: &str = "\
    SELECT version, source, created_by, created_at FROM policies WHERE created_by = $1 \
    ORDER BY version DESC LIMIT 1";

pub(super) const AUDIT_EVENTS_AFTER: &str = "\
    SELECT seq, revision, at, actor, action, subject, role, scope, elevation_id, grant_id, \
           reason, ticket, details, policy_version, request_id, trace_id, prev_hash, hash \
    FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2";

pub(super) const AUDIT_EVENTS_AFTER_REVISION: &str = "\
    SELECT seq, revision, at, actor, action, subject, role, scope, elevation_id, grant_id, \
           reason, ticket, details, policy_version, request_id, trace_id, prev_hash, hash \
    FROM audit_events WHERE revision > $1 ORDER BY seq LIMIT $2";

pub(super) const INSERT_OUTBOX: &str = "\
    INSERT INTO webhook_outbox (url, event_kind, payload, created_at, next_attempt_at, revision) \
    VALUES ($1, $2, $3, $4, $4, $5)";

/// Claims due deliveries for a while; `SKIP LOCKED` lets every replica's worker take its own.
pub(super) const CLAIM_DELIVERIES: &str = "\
    WITH due AS ( \
        SELECT id FROM webhook_outbox \
        WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $1 \
          AND (locked_until IS NULL OR locked_until <= $1) \
        ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
    UPDATE webhook_outbox o SET locked_until = $2 FROM due WHERE o.id = due.id \
    RETURNING o.id, o.url, o.event_kind, o.payload, o.attempts, o.revision";

pub(super) const DELIVERED: &str = "\
    UPDATE webhook_outbox SET delivered_at = $2, attempts = attempts + 1, locked_until = NULL, \
        last_error = NULL WHERE id = $1";

pub(super) const DELIVERY_FAILED: &str = "\
    UPDATE webhook_outbox SET attempts = attempts + 1, locked_until = NULL, last_error = $2, \
        next_attempt_at = COALESCE($3::timestamptz, next_attempt_at), \
        abandoned_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz ELSE NULL END \
    WHERE id = $1";

pub(super) const PENDING_DELIVERIES: &str = "\
    SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL";

pub(super) const PENDING_ELEVATIONS: &str =
    "SELECT count(*) FROM elevations WHERE state = 'PENDING'";

pub(super) const LIST_AUDIT: &str = "\
    SELECT seq, revision, at, actor, action, subject, role, scope, elevation_id, grant_id, \
           reason, ticket, details, policy_version, request_id, trace_id, prev_hash, hash \
    FROM audit_events \
    WHERE seq > $1 \
      AND ($2::text IS NULL OR subject = $2) \
      AND ($3::text IS NULL OR actor = $3) \
      AND ($4::text IS NULL OR subject = $4 OR actor = $4) \
      AND ($5::text IS NULL OR action = $5) \
      AND ((cardinality($6::uuid[]) = 0 AND cardinality($7::uuid[]) = 0) \
           OR elevation_id = ANY($6) OR grant_id = ANY($7)) \
      AND ($8::timestamptz IS NULL OR at >= $8) \
      AND ($9::timestamptz IS NULL OR at < $9) \
    ORDER BY seq LIMIT $10";

pub(super) const AUDIT_HEAD: &str = "\
    SELECT h.audit_seq, h.audit_hash, coalesce((SELECT revision FROM audit_events \
        WHERE seq = h.audit_seq), 0) FROM elevator_head h";

pub(super) const SAVE_CHECKPOINT: &str = "\
    INSERT INTO audit_checkpoints (seq, hash, revision, signed_at, public_key, signature) \
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING";

pub(super) const LATEST_CHECKPOINT: &str = "\
    SELECT seq, hash, revision, signed_at, public_key, signature FROM audit_checkpoints \
    ORDER BY seq DESC LIMIT 1";

pub(super) const LISTEN: &str = "LISTEN elevator_changes";

/// The sweep runs on one replica at a time: a session-level advisory lock, released when the
/// holder's connection closes.
pub(super) const TRY_LOCK_SWEEP: &str = "SELECT pg_try_advisory_lock(7428510002)";
pub(super) const UNLOCK_SWEEP: &str = "SELECT pg_advisory_unlock(7428510002)";

/// What the role the server runs as may do, and nothing more: read and write the state
/// tables, only read and append the audit log and its checkpoints, read the migration
/// bookkeeping. It owns nothing, so it can neither change the schema nor lift these limits.
/// `{role}` is replaced by the quoted role name.
pub(super) const GRANT_RUNTIME_ROLE: &str = "    GRANT USAGE ON SCHEMA public TO {role};     REVOKE ALL ON elevator_head, policies, elevations, grants, risk_signals, webhook_outbox,         audit_events, audit_checkpoints, elevator_migrations, directory_entities,         directory_names, requestable_denials, access_requests, break_glass_uses, break_glass_checks,         review_campaigns, review_items FROM {role};     GRANT SELECT, INSERT, UPDATE ON elevator_head, policies, elevations, grants, risk_signals,         webhook_outbox TO {role};     GRANT SELECT, INSERT, UPDATE, DELETE ON directory_entities, directory_names TO {role};     GRANT SELECT, INSERT, DELETE ON requestable_denials TO {role};     GRANT SELECT, INSERT ON access_requests TO {role};     GRANT SELECT, INSERT, UPDATE ON break_glass_uses, review_items TO {role};     GRANT SELECT, INSERT ON break_glass_checks, review_campaigns TO {role};    GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO {role};     GRANT SELECT ON elevator_migrations TO {role};     GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}";

/// The migration bookkeeping table, created before anything else.
pub(super) const CREATE_MIGRATIONS_TABLE: &str = "\
    CREATE TABLE IF NOT EXISTS elevator_migrations ( \
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";

/// Keeps two replicas that start together from migrating at the same time.
pub(super) const LOCK_MIGRATIONS: &str = "SELECT pg_advisory_lock(7428510001)";
pub(super) const UNLOCK_MIGRATIONS: &str = "SELECT pg_advisory_unlock(7428510001)";
pub(super) const APPLIED_MIGRATIONS: &str = "SELECT version FROM elevator_migrations";
pub(super) const MIGRATIONS_TABLE_EXISTS: &str =
    "SELECT to_regclass('elevator_migrations') IS NOT NULL";
pub(super) const RECORD_MIGRATION: &str =
    "INSERT INTO elevator_migrations (version, name) VALUES ($1, $2)";

/// Columns of `directory_entities`, in the order [`super::directory::entity`] reads them.
macro_rules! entity_columns {
    () => {
        "e.entity_type, e.entity_id, e.aliases, e.properties, e.roles, e.groups, e.scope"
    };
}

/// Serializes directory writes: the names a write checks cannot change under it.
pub(super) const LOCK_DIRECTORY: &str = "SELECT pg_advisory_xact_lock(7428510003)";

/// The entities the names `$1` (types) and `$2` (ids) name, each once.
pub(super) const ENTITIES_NAMED: &str = concat!(
    "SELECT DISTINCT ",
    entity_columns!(),
    " FROM unnest($1::text[], $2::text[]) AS wanted(entity_type, name) \
     JOIN directory_names n ON n.entity_type = wanted.entity_type AND n.name = wanted.name \
     JOIN directory_entities e ON e.entity_type = n.entity_type AND e.entity_id = n.entity_id"
);

/// The entities whose canonical keys are among `$1` (types) and `$2` (ids).
pub(super) const ENTITIES_WITH_KEYS: &str = concat!(
    "SELECT ",
    entity_columns!(),
    " FROM unnest($1::text[], $2::text[]) AS wanted(entity_type, entity_id) \
     JOIN directory_entities e \
       ON e.entity_type = wanted.entity_type AND e.entity_id = wanted.entity_id"
);

/// The entity the name `$1`/`$2` names.
pub(super) const ENTITY_NAMED: &str = concat!(
    "SELECT ",
    entity_columns!(),
    " FROM directory_names n JOIN directory_entities e \
       ON e.entity_type = n.entity_type AND e.entity_id = n.entity_id \
     WHERE n.entity_type = $1 AND n.name = $2"
);

/// A page of entities: of type `$1` (or any), after the key `$2`/`$3`, at most `$4`.
pub(super) const LIST_ENTITIES: &str = concat!(
    "SELECT ",
    entity_columns!(),
    " FROM directory_entities e \
     WHERE ($1::text IS NULL OR e.entity_type = $1) \
       AND (e.entity_type, e.entity_id) > ($2::text COLLATE \"C\", $3::text COLLATE \"C\") \
     ORDER BY e.entity_type, e.entity_id LIMIT $4"
);

/// Every entity, in one snapshot with the revision (one row with nulls when there are none).
pub(super) const LOAD_DIRECTORY: &str = concat!(
    "SELECT h.revision, ",
    entity_columns!(),
    " FROM elevator_head h LEFT JOIN directory_entities e ON true"
);

/// Deletes the entities with the keys `$1` (types) and `$2` (ids), with their names.
pub(super) const DELETE_ENTITIES: &str = "\
    DELETE FROM directory_entities e USING unnest($1::text[], $2::text[]) AS gone(t, i) \
    WHERE e.entity_type = gone.t AND e.entity_id = gone.i";

/// Inserts entities, one per element of the arrays (roles and groups as JSON arrays of text,
/// as PostgreSQL has no arrays of arrays of differing lengths).
pub(super) const INSERT_ENTITIES: &str = "\
    INSERT INTO directory_entities \
        (entity_type, entity_id, aliases, properties, roles, groups, scope, revision) \
    SELECT t, i, ARRAY(SELECT jsonb_array_elements_text(a)), p, \
        ARRAY(SELECT jsonb_array_elements_text(r)), ARRAY(SELECT jsonb_array_elements_text(g)), \
        s, $8 \
    FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::jsonb[], $6::jsonb[], \
        $7::text[]) AS new(t, i, a, p, r, g, s)";

/// Inserts names: type `$1`, name `$2`, canonical id `$3`, one per element.
pub(super) const INSERT_NAMES: &str = "\
    INSERT INTO directory_names (entity_type, name, entity_id) \
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[])";
