"""Regions of a deployment: which stores each one has, what a process serving one of them may know, and refusals.

A deployment declares its regions in `SOVEREEL_REGIONS` (JSON, `{name: {database_url, media_url, bus_url,
public_url, signing_key_file}}`). A process serving region A is given `settings_for(settings, "a")`: its own
region's store URLs, and of every other region only the public base URL (used by the sign-up region picker
and the content exchange). So a process never holds another region's database or media credentials.

Session tokens name their region (`<region>.<random>`): a token naming another region of the deployment is
refused with 403, as is any request that names another region's user: a `name@region` handle (how another
region's creators appear here), a creator stub, or an account id of another region (account ids carry their
home region's tag, `sovereel.ids.region_tag`). Only a refusal of an authenticated request (a signed-in user,
an operator) is written to the audit log as `residency.refused`, one entry each; an unauthenticated one (a
token this region cannot check, an anonymous look-up) is counted and summarised at most once per window
(`actions.refusals`), so no anonymous request grows the log. A token naming a region that is not part
of the deployment is simply an invalid token (401), written nowhere. The refusals that are audited, and
`check_username` which decides them, are in `actions.residency` (the audit log is written only by actions).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sovereel.errors import Forbidden, Invalid
from sovereel.governance.signing import region_keys, trust_key, trusted_dir, trusted_key
from sovereel.ids import id_tag, region_tag
from sovereel.settings import REGION_RE, Settings

log = logging.getLogger(__name__)

SPEC_KEYS = frozenset({"database_url", "media_url", "bus_url", "public_url", "signing_key_file"})
STORE_KEYS = ("database_url", "media_url", "bus_url", "signing_key_file")  # what only the region's own process holds
DEMO_HOSTS = ("127.0.0.1", "localhost")  # distinct host names keep each region's session cookie apart in a browser


class ForeignRegion(Forbidden):
    """A request for personal data that lives in another region (403, code `wrong_region`)."""

    code = "wrong_region"


@dataclass(frozen=True)
class RegionSpec:
    """Where one region's data lives and where its public web front is."""

    name: str
    database_url: str = ""
    media_url: str = ""
    bus_url: str = ""
    public_url: str = ""
    signing_key_file: str = ""


def region_specs(settings: Settings) -> dict[str, RegionSpec]:
    """The deployment's regions (just this process's region when `SOVEREEL_REGIONS` is empty)."""
    if not settings.regions:
        return {
            settings.region: RegionSpec(
                name=settings.region,
                database_url=settings.database_url,
                media_url=settings.media_url,
                bus_url=settings.bus_url,
                public_url=settings.public_url,
            )
        }
    out: dict[str, RegionSpec] = {}
    for name, raw in settings.regions.items():
        if not REGION_RE.fullmatch(name):
            raise Invalid(f"region name {name!r} must be lower-case letters, digits, '-' or '_'", code="bad_region")
        unknown = set(raw) - SPEC_KEYS
        if unknown:
            raise Invalid(f"region {name}: unknown keys {sorted(unknown)}", code="bad_region")
        out[name] = RegionSpec(name=name, **{k: str(v) for k, v in raw.items()})
    return out


def settings_for(settings: Settings, name: str) -> Settings:
    """Settings of a process serving region `name`: its own store URLs, only public URLs of the others."""
    specs = region_specs(settings)
    if name not in specs:
        raise Invalid(f"unknown region {name!r}; the deployment has {sorted(specs)}", code="bad_region")
    own = specs[name]
    regions = {n: {"public_url": s.public_url} for n, s in specs.items() if n != name}
    regions[name] = {k: getattr(own, k) for k in ("public_url", *STORE_KEYS) if getattr(own, k)}
    update: dict[str, object] = {"region": name, "regions": regions, "public_url": own.public_url}
    update["database_url"] = own.database_url
    update["media_url"] = own.media_url
    if own.bus_url:
        update["bus_url"] = own.bus_url
    if own.signing_key_file:
        update["signing_key_file"] = Path(own.signing_key_file)
    return settings.model_copy(update=update)


def demo_regions(settings: Settings, names: list[str], host: str, port: int) -> Settings:
    """The embedded demo layout: each region a SQLite file and media folder under data_dir/<region>, one port each."""
    regions: dict[str, dict[str, str]] = {}
    for i, name in enumerate(names):
        if not REGION_RE.fullmatch(name):
            raise Invalid(f"region name {name!r} must be lower-case letters, digits, '-' or '_'", code="bad_region")
        # Each region gets its own host name where possible: a browser keeps one session cookie per host.
        shown = DEMO_HOSTS[i % len(DEMO_HOSTS)] if host in DEMO_HOSTS else host
        regions[name] = {"public_url": f"http://{shown}:{port + i}"}
    return settings.model_copy(update={"regions": regions})


def introduce_region_keys(deployment: Settings, names: list[str]) -> None:
    """Make each named region trust the others' public keys (creating keys on first use).

    For a layout one operator runs whole (`serve --regions`, the demo): the exchange between regions is
    signed with these keys. A key already trusted for a region is never replaced (that is the operator's
    decision, as with a model export's key); in a real deployment each region's operator installs
    `<region>.pub` files in the trusted-keys folder instead.
    """
    own = {name: settings_for(deployment, name) for name in names}
    public = {name: region_keys(s).public for name, s in own.items()}
    for name, settings in own.items():
        folder = trusted_dir(settings)
        for other, key in public.items():
            if other == name:
                continue
            held = trusted_key(folder, other)
            if held is None:
                trust_key(folder, other, key)
            elif held != key:
                log.warning("region %s already trusts another key for %s; leaving it as it is", name, other)


def peer_urls(settings: Settings) -> dict[str, str]:
    """Public base URLs of the other regions of the deployment (for the exchange and the region picker)."""
    return {
        name: str(spec.get("public_url", "")).rstrip("/")
        for name, spec in settings.regions.items()
        if name != settings.region and spec.get("public_url")
    }


def region_choices(settings: Settings) -> list[dict[str, object]]:
    """The sign-up page's region picker: every region with its sign-up address; empty with one region."""
    peers = peer_urls(settings)
    if not peers:
        return []
    here = {"name": settings.region, "signup_url": "/signup", "current": True}
    others = [{"name": n, "signup_url": f"{url}/signup", "current": False} for n, url in sorted(peers.items())]
    return [here, *others]


def new_session_token(region: str) -> str:
    """A session token that names its region: `<region>.<43 random url-safe characters>`."""
    return f"{region}.{secrets.token_urlsafe(32)}"


def token_region(token: str) -> str | None:
    """The region a token names, or None for a token without one."""
    head, dot, _rest = token.partition(".")
    return head if dot and REGION_RE.fullmatch(head) else None


def foreign_handle(username: str) -> tuple[str, str] | None:
    """('ana', 'eu') for another region's handle 'ana@eu'; None for a local username."""
    name, at, region = username.lstrip("@").partition("@")
    return (name, region.lower()) if at else None


def foreign_region(region: str, requested_region: str) -> ForeignRegion:
    """The 403 for a request that names `requested_region`'s data at a server of `region`."""
    return ForeignRegion(
        f"that belongs to region {requested_region!r}; this server holds region {region!r}'s data only"
    )


def account_region(settings: Settings, value: str) -> str | None:
    """The other region of the deployment whose account ids carry `value`'s tag; None for ours or none."""
    tag = id_tag(value)
    if tag is None or tag == region_tag(settings.region):
        return None
    return next((n for n in sorted(settings.regions) if n != settings.region and region_tag(n) == tag), None)
