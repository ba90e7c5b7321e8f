"""IPFS: Kubo-identical CIDs, an on-disk embedded store, any Kubo-RPC node, a gateway app.

`open_store(settings)` gives the configured backend; both speak `ContentStore`.
"""
