CREATE TABLE instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    size INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    deleted_at TIMESTAMP,
    deleted INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uniq_instances0name0deleted UNIQUE (name, deleted),
    CONSTRAINT ck_instances_size CHECK (size IS NULL OR size >= 0)
);
CREATE TABLE ports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    mac VARCHAR(32) NOT NULL UNIQUE
);
