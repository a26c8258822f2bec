"""Confluent's JDBC source and sink, over SQLAlchemy."""
