"""The runners: how a task's records move between Kafka and the task, with the error policy and metrics."""
