"""The Schema Registry: its logic, subject naming and the HTTP client."""
