"""The robot wallet's ledger: every wei in and out by category, reconciled with the chain
(`entries`: pure functions from chain facts to entries; `ledger`: report and chart)."""
