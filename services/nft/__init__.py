"""NFT publishing: ERC-721 metadata of a painting, pinning and minting it exactly once."""
