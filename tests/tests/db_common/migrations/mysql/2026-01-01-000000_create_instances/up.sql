CREATE TABLE instances (
    id INTEGER AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    size INTEGER,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6),
    deleted_at DATETIME(6),
    deleted INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uniq_instances0name0deleted UNIQUE (name, deleted),
    CONSTRAINT ck_instances_size CHECK (size IS NULL OR size >= 0)
) ENGINE=InnoDB;
CREATE TABLE ports (
    id INTEGER AUTO_INCREMENT PRIMARY KEY,
    instance_id INTEGER NOT NULL,
    mac VARCHAR(32) NOT NULL,
    CONSTRAINT mac UNIQUE (mac),
    CONSTRAINT fk_ports_instance FOREIGN KEY (instance_id) REFERENCES instances (id)
) ENGINE=InnoDB;
