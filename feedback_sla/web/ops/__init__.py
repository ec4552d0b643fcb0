"""What operators and their tools call: liveness, readiness and the Prometheus figures."""
