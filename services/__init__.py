"""Everything external: chain, IPFS, NFTs, auctions, ledger, supplies, API."""
