-- The directory: subjects and resources the decision point knows, managed through the API.
-- Ids compare bytewise (COLLATE "C"), as the in-memory store orders them, so a page token
-- means the same on both stores.
CREATE TABLE directory_entities (
    entity_type text COLLATE "C" NOT NULL,
    entity_id text COLLATE "C" NOT NULL,
    -- Other ids of the same type naming the entity, in the order given.
    aliases text[] NOT NULL DEFAULT '{}',
    properties jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    -- Standing roles, each `role` or `role@scope`.
    roles text[] NOT NULL DEFAULT '{}',
    groups text[] NOT NULL DEFAULT '{}',
    scope text,
    revision bigint NOT NULL,
    PRIMARY KEY (entity_type, entity_id),
    CHECK (char_length(entity_type) BETWEEN 1 AND 64),
    CHECK (octet_length(entity_id) BETWEEN 1 AND 512)
);

-- Every name of every entity (its canonical id and each alias): a name names one entity of its
-- type, which the primary key enforces whatever the application checked first.
CREATE TABLE directory_names (
    entity_type text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    entity_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (entity_type, name),
    FOREIGN KEY (entity_type, entity_id) REFERENCES directory_entities (entity_type, entity_id)
        ON DELETE CASCADE
);
CREATE INDEX directory_names_by_entity ON directory_names (entity_type, entity_id);
