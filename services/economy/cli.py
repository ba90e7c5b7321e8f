"""`gaka wallet`, `gaka auction status|settle`, `gaka supplies`, `gaka investors`.

Each reads the chain directly (no daemon) into its own store under the data dir (a view kept
apart from the robot's), going on from where its last run stopped, so it works from any
terminal while the robot acts, for the robot of the deployment record or, with --address, any
other wallet. `gaka supplies` shows the inventory the robot recorded in its own store. `--json`
prints a document valid against the schema shipped in services/economy/schemas/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from gaka.config import Settings, address_option

NetworkOpt = typer.Option(None, "--network", "-n", help="embedded | localhost | sepolia")
RpcOpt = typer.Option(None, "--rpc-url", help="any JSON-RPC URL (read-only without a keystore)")
AddressOpt = typer.Option(None, "--address", callback=address_option,
                          help="another robot's wallet (default: the deployment's robot)")
DeploymentOpt = typer.Option(None, "--deployment",
                             help="deployment record (default: <deployments_dir>/<network>.json)")
JsonOpt = typer.Option(False, "--json", help="print JSON (see the published schemas)")

wallet_app = typer.Typer(help="The robot wallet: balance, ledger by category, chart.",
                         invoke_without_command=True)
auction_app = typer.Typer(help="Auction status and settlement.", no_args_is_help=True)
supplies_app = typer.Typer(help="Supplies: inventory, thresholds, orders.",
                           invoke_without_command=True)
investors_app = typer.Typer(help="Investors: loans, repayments, what each may withdraw.",
                            invoke_without_command=True)


@contextmanager
def _economy(network: str | None, rpc_url: str | None, address: str | None,
             deployment: Path | None) -> Iterator[Any]:
    from services.chain.backends import ChainSpec, open_chain
    from services.chain.deploy import Target, record_name, resolve_target
    from services.chain.errors import ChainError
    from services.economy.core import open_economy, read_record

    settings = Settings() if network is None else Settings(network=network)
    try:
        target = resolve_target(settings, network, rpc_url)
    except ChainError:
        if not (rpc_url or settings.rpc_url or settings.sepolia_rpc_url) or settings.keystore:
            raise
        # Reading needs no signer: without a keystore the chain is opened read-only.
        url = rpc_url or settings.rpc_url or settings.sepolia_rpc_url
        name = "sepolia" if (network or settings.network) == "sepolia" and not rpc_url else "rpc"
        target = Target(
            name, ChainSpec(name, rpc_url=url, rpc_timeout_s=settings.rpc_timeout_s,
                            receipt_timeout_s=settings.receipt_timeout_s,
                            log_chunk_blocks=settings.log_chunk_blocks))
    if deployment is not None:  # read before the chain is opened: a typo fails fast
        try:
            record = json.loads(deployment.read_text())
        except (OSError, ValueError) as exc:
            from services.economy.errors import EconomyError

            raise EconomyError(f"cannot read deployment record {deployment}: {exc}") from None
    chain = open_chain(target.spec)
    try:
        if deployment is None:
            record = read_record(settings, record_name(target.name, chain.chain_id))
        eco = open_economy(chain, record, settings, wallet=address, view=True)
        try:
            yield eco
        finally:
            eco.store.close()
    finally:
        chain.close()


def _print(doc: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(doc, indent=2) if as_json else text)


def _eth(wei: int | str) -> str:
    return f"{int(wei) / 1e18:.6f} ETH"


@wallet_app.callback()
def wallet(
    ctx: typer.Context,
    plot: Path | None = typer.Option(None, "--plot", help="write the balance chart (PNG)"),
    entries: bool = typer.Option(False, "--entries", help="list every entry (text output)"),
    network: str | None = NetworkOpt, rpc_url: str | None = RpcOpt,
    address: str | None = AddressOpt, deployment: Path | None = DeploymentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Balance, ledger totals by category and the reconciliation with the node."""
    from services.ledger.ledger import ledger_report, plot_balance

    with _economy(network, rpc_url, address, deployment) as eco:
        report = ledger_report(eco)
    doc = report.to_dict()
    if plot is not None:
        doc["plot"] = str(plot_balance(report, plot))
    lines = [f"wallet {report.wallet} at block {report.block}",
             f"balance {_eth(report.chain_wei)} ({report.chain_wei} wei); ledger "
             f"{'reconciles with' if report.reconciled else 'DOES NOT RECONCILE WITH'} the chain "
             f"(ledger − chain = {report.ledger_wei - report.chain_wei} wei; unexplained, "
             f"booked as other: {report.unattributed_wei} wei)",
             f"  {'opening':16s} {_eth(report.opening_wei):>22s}"]
    lines += [f"  {c:16s} {_eth(v):>22s}" for c, v in report.totals.items()]
    if entries:
        lines += [f"  #{e.block:<6d} {e.category:14s} {e.amount:>28d}  {e.tx_hash[:12]} {e.memo}"
                  for e in report.entries]
    if plot is not None:
        lines.append(f"chart: {plot}")
    _print(doc, as_json, "\n".join(lines))


def _token(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        token = int(text, 0)
    except ValueError:
        raise typer.BadParameter(f"token id must be a number, got {text!r}") from None
    if not 0 <= token < 2**256:
        raise typer.BadParameter(f"token id must be 0 … 2**256 - 1, got {text}")
    return token


def _listing_line(t: dict[str, Any]) -> str:
    lot = t["latest"]
    bid = (f"{_eth(lot['highest_bid_wei'])} by {lot['highest_bidder']}" if lot["highest_bidder"]
           else "no bid")
    return (f"token {t['token_id'][:16]}… listing {lot['listing']}: {t['state']}"
            f"{' (kept)' if t['kept'] else ''}, reserve {_eth(lot['reserve_wei'])}, {bid}, "
            f"{len(lot['bids'])} bids, ends {lot['end_time']} ({lot['extensions']} extensions)")


@auction_app.command("status")
def auction_status_cmd(
    token: str | None = typer.Argument(None, help="token id (default: every auction)"),
    network: str | None = NetworkOpt, rpc_url: str | None = RpcOpt,
    address: str | None = AddressOpt, deployment: Path | None = DeploymentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Reserve, highest bid and bidder, end time, extensions and state of auctions."""
    from services.auctions.auctions import auction_status

    token_id = _token(token)
    with _economy(network, rpc_url, address, deployment) as eco:
        doc = auction_status(eco, token_id)
    text = "\n".join([f"auction house {doc['auction_house']}, chain time {doc['chain_time']}"]
                     + [_listing_line(t) for t in doc["auctions"]])
    _print(doc, as_json, text)


@auction_app.command("settle")
def auction_settle_cmd(
    token: str | None = typer.Argument(None, help="token id (default: every ended auction)"),
    network: str | None = NetworkOpt, rpc_url: str | None = RpcOpt,
    address: str | None = AddressOpt, deployment: Path | None = DeploymentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Settle ended auctions (anyone may; the robot's key is used when this machine has it)."""
    from services.auctions.auctions import settle, settle_due

    token_id = _token(token)
    with _economy(network, rpc_url, address, deployment) as eco:
        # Anyone may settle: the first local signer pays, so a robot acting elsewhere with
        # its own key never races this process for a nonce.
        eco.sender = eco.chain.accounts[0] if eco.chain.accounts else None
        done = [settle(eco, token_id)] if token_id is not None else settle_due(eco)
    if token_id is not None and done == [None]:
        from services.economy.errors import EconomyError

        raise EconomyError(f"token {token_id} was never auctioned on "
                           f"{eco.contracts.auction.address}; `gaka auction status` lists "
                           "the auctions")
    lots = [lot.to_dict() for lot in done if lot is not None]
    doc = {"settled": lots}
    text = "\n".join(f"token {lot['token_id'][:16]}…: {lot['state']} ({lot['closed_tx']})"
                     for lot in lots) or "nothing to settle"
    _print(doc, as_json, text)


@supplies_app.callback()
def supplies(
    ctx: typer.Context,
    network: str | None = NetworkOpt, rpc_url: str | None = RpcOpt,
    address: str | None = AddressOpt, deployment: Path | None = DeploymentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Inventory (as the robot on this machine last recorded it), thresholds, orders."""
    from services.economy.core import Economy, store_path
    from services.economy.store import Store
    from services.supplies.supplies import supplies_status

    with _economy(network, rpc_url, address, deployment) as eco:
        kept = store_path(eco.settings, eco.chain, eco.wallet, eco.contracts.auction.address)
        if kept.is_file():
            robot = Economy(eco.chain, eco.contracts, Store(kept, readonly=True), eco.settings,
                            eco.wallet)
            try:
                doc = supplies_status(robot, sync=False, source="kept")
            finally:
                robot.store.close()
        else:
            doc = supplies_status(eco, source="none")
    lines = [f"wallet {doc['wallet']}, shop {doc['shop']}"]
    if doc["inventory"] is None:
        lines.append("inventory: not kept on this machine (orders only)")
    else:
        lines.append(f"inventory as of block {doc['as_of_block']}:")
        lines += [f"  {k:20s} {v:10.2f}" for k, v in doc["inventory"].items()]
    lines += [f"order {o['order_id']}: {o['quantity']} × item {o['item_id']} "
              f"({o['supply'] or '?'}) {o['status']}" for o in doc["orders"]]
    _print(doc, as_json, "\n".join(lines))


@investors_app.callback()
def investors(
    ctx: typer.Context,
    network: str | None = NetworkOpt, rpc_url: str | None = RpcOpt,
    address: str | None = AddressOpt, deployment: Path | None = DeploymentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Loans, the repayment policy, what is repaid and what each investor may withdraw."""
    from services.investors.investors import investor_status

    with _economy(network, rpc_url, address, deployment) as eco:
        doc = investor_status(eco)
    lines = [f"robot {doc['robot']}: lent {_eth(doc['lent_wei'])}, owed "
             f"{_eth(doc['owed_wei'])}, repaid {_eth(doc['repaid_wei'])} "
             f"({_eth(doc['unconfirmed_wei'])} unconfirmed), outstanding "
             f"{_eth(doc['outstanding_wei'])}"]
    lines += [f"  {i['address']}: lent {_eth(i['lent_wei'])}, claimable "
              f"{_eth(i['claimable_wei'])}, withdrawn {_eth(i['withdrawn_wei'])}"
              for i in doc["investors"]]
    _print(doc, as_json, "\n".join(lines))
