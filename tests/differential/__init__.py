"""The same connectors on Apache Kafka Connect (the JVM worker) and on faust-connect, compared."""
