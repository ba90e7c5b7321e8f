"""Decision rules, vectorised over the robots that decide this tick.

Discrete rules (Valentini et al.) look at the most recent k opinions received; continuous
baselines update a black-share estimate from the estimates received.
"""

from __future__ import annotations

import numpy as np

K_VOTES = 2


def _recent(n_received: np.ndarray) -> np.ndarray:
    return np.minimum(n_received, K_VOTES)


def voter_model(own: np.ndarray, inbox: np.ndarray, n_received: np.ndarray,
                u: np.ndarray) -> np.ndarray:
    """DMVD: adopt the opinion of one of the last k neighbours, chosen at random."""
    k = _recent(n_received)
    pick = np.minimum((u * k).astype(np.int64), np.maximum(k - 1, 0))
    chosen = inbox[np.arange(own.size), pick].astype(own.dtype)
    return np.where(k > 0, chosen, own)


def majority(own: np.ndarray, inbox: np.ndarray, n_received: np.ndarray) -> np.ndarray:
    """DMMD: majority of own opinion and the last k received; a tie keeps the own opinion."""
    k = _recent(n_received)
    slots = np.arange(inbox.shape[1])[None, :] < k[:, None]
    ones = own + (inbox * slots).sum(axis=1)
    voters = k + 1
    return np.where(2 * ones > voters, 1, np.where(2 * ones < voters, 0, own)).astype(own.dtype)


def direct_comparison(own: np.ndarray, quality: np.ndarray, inbox: np.ndarray,
                      inbox_quality: np.ndarray, n_received: np.ndarray,
                      u: np.ndarray) -> np.ndarray:
    """DC: compare own quality with a random recent neighbour's; adopt its opinion if better."""
    k = _recent(n_received)
    pick = np.minimum((u * k).astype(np.int64), np.maximum(k - 1, 0))
    rows = np.arange(own.size)
    better = (k > 0) & (inbox_quality[rows, pick] > quality)
    return np.where(better, inbox[rows, pick].astype(own.dtype), own)


def _received(inbox: np.ndarray, n_received: np.ndarray) -> np.ndarray:
    slots = np.arange(inbox.shape[1])[None, :] < n_received[:, None]
    return np.where(slots, inbox, np.nan)


def linear_consensus(own: np.ndarray, inbox: np.ndarray, n_received: np.ndarray) -> np.ndarray:
    """LCP: the mean of the own estimate and every estimate received."""
    values = np.concatenate([own[:, None], _received(inbox, n_received)], axis=1)
    return np.nanmean(values, axis=1).astype(own.dtype)


def wmsr(own: np.ndarray, inbox: np.ndarray, n_received: np.ndarray, f: int) -> np.ndarray:
    """W-MSR: drop up to f received values above the own estimate and up to f below, then mean."""
    values = np.sort(_received(inbox, n_received), axis=1)  # NaN sorts last
    pos = np.arange(values.shape[1])[None, :]
    above = np.minimum((values > own[:, None]).sum(axis=1), f)
    below = np.minimum((values < own[:, None]).sum(axis=1), f)
    keep = (pos >= below[:, None]) & (pos < (n_received - above)[:, None])
    total = own + np.where(keep, values, 0.0).sum(axis=1)
    return (total / (1 + keep.sum(axis=1))).astype(own.dtype)
