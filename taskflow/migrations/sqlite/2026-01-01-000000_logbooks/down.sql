DROP TABLE atomdetails;
DROP TABLE flowdetails;
DROP TABLE logbooks;
