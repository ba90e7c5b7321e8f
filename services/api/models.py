"""Answers of the API (snake_case; wei as decimal strings, since they exceed JSON numbers)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: int = Field(description="HTTP status")
    message: str


class ErrorAnswer(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    ok: bool
    version: str


class Status(BaseModel):
    state: str = Field(description="working | waiting | paused | stopping")
    step: str | None = Field(description="step of the cycle in the studio")
    cycle_id: int | None
    progress: float = Field(ge=0, le=1)
    detail: str
    error: str | None
    network: str
    robot: str
    cycles_done: int
    uptime_s: float
    version: int


class Wallet(BaseModel):
    wallet: str
    block: int = Field(description="last block the ledger has read")
    balance_wei: str = Field(description="the node's balance at that block")
    ledger_wei: str = Field(description="sum of the ledger entries (opening included)")
    ledger_minus_chain_wei: str
    reconciled: bool
    opening_wei: str
    totals_wei: dict[str, str] = Field(description="sum per category")
    unattributed_wei: str = Field(description="balance changes of no known cause (0 = exact)")


class LedgerEntry(BaseModel):
    block: int
    time: int
    tx_hash: str
    category: str
    amount_wei: str
    memo: str


class Bid(BaseModel):
    bidder: str
    amount_wei: str
    block: int
    time: int
    tx_hash: str


class Auction(BaseModel):
    token_id: str
    listing: int = Field(description="1 for the first listing, 2 for a re-listing, ...")
    seller: str
    state: str = Field(description="open | ended | sold | unsold | canceled")
    end_time: int
    seconds_left: float
    reserve_wei: str
    highest_bid_wei: str
    highest_bidder: str | None
    bids: int
    extensions: int
    fee_wei: str
    opened_tx: str
    closed_tx: str | None


class AuctionDetail(Auction):
    history: list[Bid]


class Painting(BaseModel):
    token_id: str | None
    cycle_id: int
    state: str
    created_at: float
    image_url: str | None
    film_url: str | None
    plan_cid: str | None
    metadata_cid: str | None
    token_uri: str | None


class Order(BaseModel):
    order_id: int
    item_id: int
    quantity: int
    amount_wei: str
    status: str
    supply: str | None
    placed_tx: str
    block: int


class Supplies(BaseModel):
    inventory: dict[str, float] | None
    thresholds: dict[str, float]
    targets: dict[str, float]
    paintings_recorded: int
    orders: list[Order]


class Investor(BaseModel):
    address: str
    lent_wei: str
    withdrawn_wei: str
    claimable_wei: str


class Investors(BaseModel):
    lent_wei: str
    owed_wei: str
    repaid_wei: str
    outstanding_wei: str
    repaid_in_full: bool
    investors: list[Investor]


class Done(BaseModel):
    ok: bool
    state: str
