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


class Reconciliation(BaseModel):
    block: int
    expected_wei: str
    balance_wei: str
    difference_wei: str
    ok: bool


class Wallet(BaseModel):
    address: str
    balance_wei: str
    opening_wei: str
    by_category: dict[str, str] = Field(description="sum of ledger entries per category, wei")
    reconciliation: Reconciliation | None


class LedgerEntry(BaseModel):
    key: str
    category: str
    amount_wei: str
    block: int
    tx_hash: str | None
    token_id: str | None
    memo: str
    at: float


class Bid(BaseModel):
    bidder: str
    amount_wei: str
    block: int
    at: float


class Auction(BaseModel):
    token_id: str
    status: str = Field(description="open | sold | unsold")
    end_time: int
    seconds_left: float
    reserve_wei: str
    highest_wei: str
    bidder: str | None
    bids: int
    sale_wei: str | None


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


class Supply(BaseModel):
    name: str
    stock: int
    on_order: int
    threshold: int
    refill_to: int


class Order(BaseModel):
    key: str
    supply: str
    quantity: int
    order_id: int | None
    status: str
    amount_wei: str


class Supplies(BaseModel):
    supplies: list[Supply]
    orders: list[Order]


class Investor(BaseModel):
    address: str
    lent_wei: str
    claimable_wei: str


class Investors(BaseModel):
    total_lent_wei: str
    total_repaid_wei: str
    investors: list[Investor]


class Done(BaseModel):
    ok: bool
    state: str
