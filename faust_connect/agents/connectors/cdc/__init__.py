"""Change data capture as Debezium does it: shared plumbing, PostgreSQL and MySQL/MariaDB."""
