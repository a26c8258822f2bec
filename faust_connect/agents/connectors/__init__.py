"""The built-in connectors: FileStream, datagen, JDBC and the change-data-capture sources."""
