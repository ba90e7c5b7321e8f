"""Signers: dev accounts of local chains, or an encrypted eth-account keystore."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.backends.pyevm.main import get_default_account_keys
from eth_utils import to_checksum_address

from services.chain.errors import KeystoreError

# Hardhat's public development mnemonic; its accounts are funded only on local nodes.
HARDHAT_MNEMONIC = "test test test test test test test test test test test junk"
PASSWORD_ENV = "GAKA_KEYSTORE_PASSWORD"


def embedded_dev_accounts(count: int) -> list[LocalAccount]:
    """The accounts eth-tester funds at genesis."""
    return [Account.from_key(k.to_bytes()) for k in get_default_account_keys(quantity=count)]


def hardhat_dev_accounts(count: int) -> list[LocalAccount]:
    """The accounts a Hardhat node funds, derived from its public mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(HARDHAT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(count)
    ]


def read_password(password_file: Path | None = None) -> str:
    """The keystore password from GAKA_KEYSTORE_PASSWORD or a file, never from argv."""
    if password := os.environ.get(PASSWORD_ENV):
        return password
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {password_file}: {exc.strerror}") \
                from None
    raise KeystoreError(f"no keystore password: set {PASSWORD_ENV} or GAKA_KEYSTORE_PASSWORD_FILE")


def _write_keystore(path: Path, account: LocalAccount, password: str) -> str:
    if path.exists():
        raise KeystoreError(f"keystore {path} already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    encrypted = Account.encrypt(account.key, password)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(encrypted, fh)
    return account.address


def create_keystore(path: Path, password: str) -> str:
    """Create a new random account in an encrypted keystore; returns its address."""
    return _write_keystore(path, Account.create(), password)


def import_keystore(path: Path, private_key: str, password: str) -> str:
    """Encrypt an existing private key into a keystore; returns its address."""
    try:
        account = Account.from_key(private_key.strip())
    except Exception:  # noqa: BLE001 - the message must not echo the key
        raise KeystoreError("that is not a valid private key (64 hex digits)") from None
    return _write_keystore(path, account, password)


def keystore_address(path: Path) -> str:
    """The address stored in a keystore, without decrypting it."""
    data = _read_keystore(path)
    if "address" not in data:
        raise KeystoreError(f"keystore {path} has no address field")
    return to_checksum_address("0x" + data["address"].lower().removeprefix("0x"))


def _read_keystore(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"keystore {path} is unreadable: {exc.__class__.__name__}") from None


def load_signer(path: Path, password: str) -> LocalAccount:
    """Decrypt a keystore; a wrong password is a KeystoreError with no key material."""
    data = _read_keystore(path)
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise KeystoreError(f"wrong password for keystore {path}") from None
    except Exception as exc:  # noqa: BLE001 - malformed keystore JSON of any shape
        raise KeystoreError(f"keystore {path} is malformed ({exc.__class__.__name__})") from None
    return Account.from_key(key)
