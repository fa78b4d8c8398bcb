"""Region-to-region requests signed with the region keys (RFC 9421 HTTP Message Signatures, Ed25519).

A region calling a peer (the content exchange) signs `@method`, `@authority`, `@path` and `@query` with its
own Ed25519 key (`governance.signing`), with `keyid` = its region name, a `created` time, an `expires` time
`MAX_AGE_S` later, a random `nonce` and the application `tag` "sovereel-exchange". The peer accepts the
request only when the key id names another region of its deployment, the key is the one it trusts for that
region (`<trusted_keys>/<region>.pub`, the same trust store model export and lineage checks use), the
signature verifies, the signature is fresh, and the nonce was not seen before. `@target-uri` and `@scheme`
are left out on purpose: behind a TLS-terminating proxy the server sees `http` where the caller signed
`https`; the host, path and query still bind the signature to this request on this server.

The signature format, signature base and checks are the maintained `http-message-signatures` library's;
this module chooses the covered components and parameters and maps failures to a bounded set of reasons.
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from sovereel.errors import Unauthorized
from sovereel.governance.signing import RegionKeys
from sovereel.settings import REGION_RE

TAG = "sovereel-exchange"
LABEL = "sovereel"
COVERED = ("@method", "@authority", "@path", "@query")
MAX_AGE_S = 60  # a signed request is good for a minute; the nonce store keeps nonces a little longer than that
NONCE_TTL_S = MAX_AGE_S + 30
NONCE_MAX = 64


class PeerNotAuthenticated(Unauthorized):
    """A peer request without a valid, fresh signature of a trusted region (401); `reason` is for counting."""

    code = "peer_not_authenticated"

    def __init__(
        self, reason: str, message: str = "this endpoint answers signed requests of peer regions only"
    ) -> None:
        super().__init__(message)
        self.reason = reason


class _FieldLines(list[tuple[str, str]]):
    """Header field lines in wire order (repeated names kept apart), readable as the library reads headers."""

    def items(self) -> list[tuple[str, str]]:
        return list(self)


@dataclass
class _Message:
    """The request shape the library reads: method, absolute URL and header fields."""

    method: str
    url: str
    headers: Any = field(default_factory=dict)


class _SigningKey(HTTPSignatureKeyResolver):
    def __init__(self, keys: RegionKeys) -> None:
        self.keys = keys

    def resolve_private_key(self, key_id: str) -> Any:
        return self.keys.private

    def resolve_public_key(self, key_id: str) -> Any:
        return None


class _PeerKeys(HTTPSignatureKeyResolver):
    """Resolves a key id to the trusted key of that peer region, noting why one was not found."""

    def __init__(self, peers: Collection[str], key_for: Callable[[str], bytes | None]) -> None:
        self.peers = peers
        self.key_for = key_for
        self.refused: str | None = None
        self.region: str | None = None

    def resolve_private_key(self, key_id: str) -> Any:
        raise KeyError(key_id)

    def resolve_public_key(self, key_id: str) -> Any:
        if not (isinstance(key_id, str) and REGION_RE.fullmatch(key_id) and key_id in self.peers):
            self.refused = "unknown_peer"
            return None
        raw = self.key_for(key_id)
        if raw is None:
            self.refused = "untrusted_peer"
            return None
        self.region = key_id
        return Ed25519PublicKey.from_public_bytes(raw)


def sign_request(
    keys: RegionKeys, method: str, url: str, *, created: float | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The `Signature-Input` and `Signature` headers that sign this request as `keys.region`."""
    made = datetime.datetime.fromtimestamp(time.time() if created is None else created, tz=datetime.UTC)
    message = _Message(method.upper(), url, {})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_SigningKey(keys))
    signer.sign(
        message,
        key_id=keys.region,
        created=made,
        expires=made + datetime.timedelta(seconds=MAX_AGE_S),
        nonce=nonce or secrets.token_urlsafe(18),
        label=LABEL,
        tag=TAG,
        covered_component_ids=COVERED,
    )
    return {k: str(v) for k, v in message.headers.items()}


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "malformed" in text or "must be" in text:
        return "malformed_signature"
    if "future" in text or "past" in text or "age" in text:
        return "expired_signature"
    return "bad_signature"


def verify_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    *,
    peers: Collection[str],
    key_for: Callable[[str], bytes | None],
    first_use: Callable[[str, str], bool],
) -> str:
    """The peer region that signed this request; raises PeerNotAuthenticated (with a bounded `reason`).

    `peers` are the other regions of the deployment, `key_for(region)` the public key trusted for one, and
    `first_use(region, nonce)` records a nonce and says whether it is new (False: a replay). Only a request
    whose signature verified reaches `first_use`, so an unauthenticated request writes nothing anywhere.
    """
    fields = _FieldLines((str(k), str(v)) for k, v in headers)
    names = {k.lower() for k, _ in fields}
    if "signature-input" not in names or "signature" not in names:
        raise PeerNotAuthenticated("unsigned")
    resolver = _PeerKeys(peers, key_for)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    try:
        results = verifier.verify(
            _Message(method.upper(), url, fields),
            max_age=datetime.timedelta(seconds=MAX_AGE_S),
            expect_tag=TAG,
            require_components=COVERED,
        )
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as exc:
        raise PeerNotAuthenticated(resolver.refused or _reason(exc)) from None
    if len(results) != 1:
        raise PeerNotAuthenticated("bad_signature")
    params = results[0].parameters
    region, nonce = resolver.region, params.get("nonce")
    if region is None or params.get("keyid") != region or "expires" not in params:
        raise PeerNotAuthenticated("bad_signature")
    if not (isinstance(nonce, str) and 16 <= len(nonce) <= NONCE_MAX):
        raise PeerNotAuthenticated("malformed_signature")
    if not first_use(region, nonce):
        raise PeerNotAuthenticated("replayed")
    return region
