"""The worker's state in Faust tables whose changelogs are Kafka Connect's internal topics."""
