"""Real Kafka and PostgreSQL servers for tests, run by the scripts under deploy/."""
