"""What a worker serves: Kafka Connect's REST API, the dashboard, metrics, auth, the embedded registry."""
