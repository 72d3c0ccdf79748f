-- The tables of TaskFlow's SQL backend (taskflow/persistence/backends/sqlalchemy/tables.py at its
-- latest alembic revision); JSON columns are the native JSON type, as TaskFlow declares them here.
CREATE TABLE logbooks (
    created_at TIMESTAMP,
    updated_at TIMESTAMP,
    meta JSON,
    name VARCHAR(255),
    uuid VARCHAR(64) NOT NULL PRIMARY KEY
);
CREATE TABLE flowdetails (
    created_at TIMESTAMP,
    updated_at TIMESTAMP,
    parent_uuid VARCHAR(64),
    meta JSON,
    name VARCHAR(255),
    state VARCHAR(255),
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    CONSTRAINT flowdetails_ibfk_1 FOREIGN KEY (parent_uuid) REFERENCES logbooks (uuid) ON DELETE CASCADE
);
CREATE TABLE atomdetails (
    created_at TIMESTAMP,
    updated_at TIMESTAMP,
    meta JSON,
    parent_uuid VARCHAR(64),
    name VARCHAR(255),
    version VARCHAR(64),
    state VARCHAR(255),
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    failure JSON,
    results JSON,
    revert_results JSON,
    revert_failure JSON,
    atom_type VARCHAR(32),
    intention VARCHAR(32),
    CONSTRAINT atomdetails_ibfk_1 FOREIGN KEY (parent_uuid) REFERENCES flowdetails (uuid) ON DELETE CASCADE
);
CREATE INDEX flowdetails_parent ON flowdetails (parent_uuid);
CREATE INDEX atomdetails_parent ON atomdetails (parent_uuid);
