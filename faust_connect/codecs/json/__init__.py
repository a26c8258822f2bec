"""Kafka's JsonConverter, with and without the schema envelope."""
