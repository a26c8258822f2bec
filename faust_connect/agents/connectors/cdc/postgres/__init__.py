"""Debezium's PostgreSQL connector: pgoutput over a logical replication slot."""
