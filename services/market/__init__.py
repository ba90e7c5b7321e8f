"""A simulated market for local chains: bidders with private valuations, a supply shop."""
