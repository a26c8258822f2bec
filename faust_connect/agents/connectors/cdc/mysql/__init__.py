"""Debezium's MySQL and MariaDB connectors: the row binlog."""
