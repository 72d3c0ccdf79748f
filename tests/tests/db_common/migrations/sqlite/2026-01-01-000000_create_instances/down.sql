DROP TABLE ports;
DROP TABLE instances;
