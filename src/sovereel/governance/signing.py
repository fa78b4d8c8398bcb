"""Region signing keys (Ed25519, `cryptography`): the key file, signatures, and the trusted keys of other regions.

A region's private key lives in one PEM file, created on first use with mode 0600
(`<region dir>/signing_key.pem`, or SOVEREEL_SIGNING_KEY_FILE). Other regions' public keys are trusted by
putting `<region>.pub` (the 32-byte raw key in hex) into the trusted-keys folder
(`<region dir>/trusted_keys`, or SOVEREEL_TRUSTED_KEYS_DIR).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sovereel.settings import REGION_RE, Settings


class KeyError_(ValueError):
    """A key file that cannot be read or used."""


def key_id(public_raw: bytes) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_raw(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of the key's public half."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Read the PEM private key at `path`, creating it (mode 0600) when it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_or_create_key(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyError_(f"{path} is not an Ed25519 key")
    return loaded


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """The Ed25519 signature of `message`, in hex."""
    return key.sign(message).hex()


def verify(public: bytes, message: bytes, signature_hex: str) -> bool:
    """True when `signature_hex` is a valid Ed25519 signature of `message` by `public` (raw bytes)."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def _set(p: Path | None) -> bool:
    return p is not None and str(p) not in ("", ".")


def key_path(settings: Settings) -> Path:
    """Where this region's private key lives."""
    if settings.signing_key_file is not None and _set(settings.signing_key_file):
        return settings.signing_key_file
    return settings.region_dir / "signing_key.pem"


def trusted_dir(settings: Settings) -> Path:
    """The folder of other regions' trusted public keys."""
    if settings.trusted_keys_dir is not None and _set(settings.trusted_keys_dir):
        return settings.trusted_keys_dir
    return settings.region_dir / "trusted_keys"


@dataclass(frozen=True)
class RegionKeys:
    """A region's own signing key plus the public keys it trusts, by region name."""

    region: str
    private: Ed25519PrivateKey
    trusted: dict[str, bytes]

    @property
    def public(self) -> bytes:
        return public_raw(self.private)

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def public_key_for(self, region: str) -> bytes | None:
        """The public key trusted for `region` (its own key for this region), or None."""
        if region == self.region:
            return self.public
        return self.trusted.get(region)

    def sign(self, message: bytes) -> str:
        """Sign with this region's key."""
        return sign(self.private, message)


def read_trusted(folder: Path) -> dict[str, bytes]:
    """The `<region>.pub` files of a folder, as {region: raw public key}; malformed files are refused."""
    keys: dict[str, bytes] = {}
    if not folder.is_dir():
        return keys
    for f in sorted(folder.glob("*.pub")):
        region = f.stem
        if not REGION_RE.fullmatch(region):
            raise KeyError_(f"{f}: not a region name")
        try:
            raw = bytes.fromhex(f.read_text().strip())
        except ValueError as exc:
            raise KeyError_(f"{f}: not a hex public key") from exc
        if len(raw) != 32:
            raise KeyError_(f"{f}: an Ed25519 public key has 32 bytes, this one {len(raw)}")
        keys[region] = raw
    return keys


def trusted_key(folder: Path, region: str) -> bytes | None:
    """The public key trusted for `region` in `folder`, read now (so a key trusted at run time counts), or None."""
    if not REGION_RE.fullmatch(region):
        return None
    path = folder / f"{region}.pub"
    try:
        raw = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return raw if len(raw) == 32 else None


def trust_key(folder: Path, region: str, public: bytes) -> Path:
    """Record `public` as the trusted key of `region` in `folder`."""
    if not REGION_RE.fullmatch(region):
        raise KeyError_(f"{region!r} is not a region name")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{region}.pub"
    path.write_text(public.hex() + "\n")
    return path


def region_keys(settings: Settings) -> RegionKeys:
    """Load (creating on first use) this region's key and the keys it trusts."""
    private = load_or_create_key(key_path(settings))
    return RegionKeys(region=settings.region, private=private, trusted=read_trusted(trusted_dir(settings)))


def keys_for_dir(region: str, region_dir: Path) -> RegionKeys:
    """The keys of a region known only by its folder (as `region_keys` would find them from the environment)."""
    key_file = os.environ.get("SOVEREEL_SIGNING_KEY_FILE", "")
    trusted = os.environ.get("SOVEREEL_TRUSTED_KEYS_DIR", "")
    private = load_or_create_key(Path(key_file) if key_file else region_dir / "signing_key.pem")
    folder = Path(trusted) if trusted else region_dir / "trusted_keys"
    return RegionKeys(region=region, private=private, trusted=read_trusted(folder))
