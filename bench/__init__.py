"""Benchmarks of faust-connect against bare aiokafka, a bare Faust agent and Quix Streams."""
