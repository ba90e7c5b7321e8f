"""Solidity compilation, chain backends, transactions, keystore, deployment."""
