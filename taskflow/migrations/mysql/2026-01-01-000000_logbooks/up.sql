-- The tables of TaskFlow's SQL backend (taskflow/persistence/backends/sqlalchemy/tables.py at its
-- latest alembic revision), with JSON as text (TaskFlow's JSONType outside PostgreSQL).
CREATE TABLE logbooks (
    created_at DATETIME(6),
    updated_at DATETIME(6),
    meta LONGTEXT,
    name VARCHAR(255),
    uuid VARCHAR(64) NOT NULL PRIMARY KEY
) ENGINE=InnoDB;
CREATE TABLE flowdetails (
    created_at DATETIME(6),
    updated_at DATETIME(6),
    parent_uuid VARCHAR(64),
    meta LONGTEXT,
    name VARCHAR(255),
    state VARCHAR(255),
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    CONSTRAINT flowdetails_ibfk_1 FOREIGN KEY (parent_uuid) REFERENCES logbooks (uuid) ON DELETE CASCADE
) ENGINE=InnoDB;
CREATE TABLE atomdetails (
    created_at DATETIME(6),
    updated_at DATETIME(6),
    meta LONGTEXT,
    parent_uuid VARCHAR(64),
    name VARCHAR(255),
    version VARCHAR(64),
    state VARCHAR(255),
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    failure LONGTEXT,
    results LONGTEXT,
    revert_results LONGTEXT,
    revert_failure LONGTEXT,
    atom_type VARCHAR(32),
    intention VARCHAR(32),
    CONSTRAINT atomdetails_ibfk_1 FOREIGN KEY (parent_uuid) REFERENCES flowdetails (uuid) ON DELETE CASCADE
) ENGINE=InnoDB;
CREATE INDEX flowdetails_parent ON flowdetails (parent_uuid);
CREATE INDEX atomdetails_parent ON atomdetails (parent_uuid);
