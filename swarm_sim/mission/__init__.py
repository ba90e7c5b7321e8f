"""Secret Merkle missions: salted blueprints, inclusion proofs, proof exchange, simulations."""
