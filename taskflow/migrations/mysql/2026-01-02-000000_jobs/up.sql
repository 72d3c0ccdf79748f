-- The job board (TaskFlow keeps jobs in ZooKeeper, Redis or etcd; here they are rows). A claim is the
-- owner's name and the time it lapses unless renewed.
CREATE TABLE jobs (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    board VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    details LONGTEXT NOT NULL,
    book_uuid VARCHAR(64),
    priority INTEGER NOT NULL,
    owner VARCHAR(255),
    claim_expires_at DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6)
) ENGINE=InnoDB;
CREATE INDEX jobs_board ON jobs (board, created_at);
