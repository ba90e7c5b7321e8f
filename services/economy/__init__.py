"""The robot's economy: one store and one chain follower under auctions, ledger, investors,
supplies and the simulated market. `open_economy` is the way in (see services.economy.core)."""
