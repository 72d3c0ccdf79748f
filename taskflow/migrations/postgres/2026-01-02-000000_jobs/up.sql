-- The job board (TaskFlow keeps jobs in ZooKeeper, Redis or etcd; here they are rows). A claim is the
-- owner's name and the time it lapses unless renewed.
CREATE TABLE jobs (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    board VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    details TEXT NOT NULL,
    book_uuid VARCHAR(64),
    priority INTEGER NOT NULL,
    owner VARCHAR(255),
    claim_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX jobs_board ON jobs (board, created_at);
