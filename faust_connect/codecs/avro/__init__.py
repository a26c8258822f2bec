"""Confluent's AvroConverter and plain Avro."""
