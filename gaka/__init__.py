"""gaka: a self-employed robot artist and a Byzantine-robust robot swarm."""

__version__ = "0.1.0"
