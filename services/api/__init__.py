"""The robot's REST API, Prometheus metrics and live dashboard (FastAPI)."""
