"""Swarm simulator: collective decisions and Merkle missions with Byzantine robots."""
