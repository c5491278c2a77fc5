"""Where verdicts go: stdout now, MQTT and Prometheus alongside."""
