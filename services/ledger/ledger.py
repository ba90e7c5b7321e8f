"""Ledger report (totals by category, reconciliation with the node) and the balance chart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.economy.core import Economy
from services.ledger.entries import CATEGORIES, OPENING, Entry

__all__ = ["CATEGORIES", "Entry", "LedgerReport", "ledger_report", "plot_balance"]


@dataclass(frozen=True)
class LedgerReport:
    """The wallet's books at the last synced block, checked against the node."""

    wallet: str
    block: int
    ledger_wei: int
    chain_wei: int
    opening_wei: int
    totals: dict[str, int]
    unattributed_wei: int
    entries: list[Entry]

    @property
    def reconciled(self) -> bool:
        return self.ledger_wei == self.chain_wei

    def to_dict(self, with_entries: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "wallet": self.wallet, "block": self.block,
            "balance_wei": str(self.chain_wei), "ledger_wei": str(self.ledger_wei),
            "ledger_minus_chain_wei": str(self.ledger_wei - self.chain_wei),
            "reconciled": self.reconciled, "opening_wei": str(self.opening_wei),
            "totals_wei": {k: str(v) for k, v in self.totals.items()},
            "unattributed_wei": str(self.unattributed_wei),
        }
        if with_entries:
            doc["entries"] = [{"block": e.block, "time": e.time, "tx_hash": e.tx_hash,
                               "category": e.category, "amount_wei": str(e.amount),
                               "memo": e.memo} for e in self.entries]
        return doc


def ledger_report(eco: Economy, sync: bool = True) -> LedgerReport:
    """Sync, then sum the entries and read the node's balance at the same block."""
    if sync:
        eco.sync()
    entries = [Entry(r["block"], r["time"], r["tx_hash"], r["category"], r["amount"], r["memo"])
               for r in eco.store.entries()]
    balances = eco.store.balances()
    block = balances[-1][0] if balances else eco.contracts.start_block - 1
    chain = eco.balance_at(block) if block >= 0 else 0
    totals = {c: 0 for c in CATEGORIES}
    opening = 0
    unattributed = 0
    for e in entries:
        if e.category == OPENING:
            opening += e.amount
        else:
            totals[e.category] += e.amount
        if e.memo == "unattributed balance change":
            unattributed += e.amount
    return LedgerReport(eco.wallet, block, sum(e.amount for e in entries), chain, opening,
                        totals, unattributed, entries)


def plot_balance(report: LedgerReport, path: Path) -> Path:
    """A PNG of the balance over time, stacked by category (inflows up, outflows down)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = sorted({e.time for e in report.entries})
    if not times:
        times = [0]
    running = {c: 0 for c in CATEGORIES}
    series = {c: [] for c in CATEGORIES}
    balance = []
    total = 0
    by_time: dict[int, list[Entry]] = {}
    for e in report.entries:
        by_time.setdefault(e.time, []).append(e)
    for t in times:
        for e in by_time.get(t, []):
            total += e.amount
            if e.category != OPENING:
                running[e.category] += e.amount
        for c in CATEGORIES:
            series[c].append(running[c] / 1e18)
        balance.append(total / 1e18)
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    hours = [(t - times[0]) / 3600 for t in times]
    for c in CATEGORIES:
        if any(series[c]):
            ax.step(hours, series[c], where="post", label=c.replace("_", " "))
    ax.step(hours, balance, where="post", color="black", linewidth=2.2, label="balance")
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("hours since the first entry (chain time)")
    ax.set_ylabel("ETH (cumulative per category)")
    ax.set_title(f"wallet {report.wallet[:10]}…: {report.chain_wei / 1e18:.6f} ETH at block "
                 f"{report.block}, reconciled: {report.reconciled}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
