"""The IMAP poller's settings: the ``INBOUND_IMAP_*`` variables read and checked once, each bad
one named with its variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from feedback_sla.config import ENV_PREFIX, ConfigurationError

SECURITY = ("imaps", "starttls", "none")
DEFAULT_PORTS = {"imaps": 993, "starttls": 143, "none": 143}
#: The only hosts ``none`` may talk to: the password and the mail never leave the machine.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class ImapSettings:
    host: str
    user: str
    password: str = field(repr=False)
    security: str = "imaps"
    port: int = 993
    ca_file: str | None = None
    folder: str = "INBOX"
    done_folder: str = "Processed"
    failed_folder: str = "Failed"
    interval: float = 60.0
    timeout: float = 30.0

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"

    @classmethod
    def from_mapping(cls, config: Mapping[str, object]) -> ImapSettings:
        """The ``INBOUND_IMAP_*`` settings; ConfigurationError names a bad one and its variable."""
        host = _text(config, "INBOUND_IMAP_HOST")
        security = _security(config, host)
        folders = {key: _folder(config, key) for key in FOLDERS}
        if folders["INBOUND_IMAP_FOLDER"] in (
            folders["INBOUND_IMAP_DONE_FOLDER"],
            folders["INBOUND_IMAP_FAILED_FOLDER"],
        ):
            raise _bad("INBOUND_IMAP_FOLDER", "must differ from the done and failed folders")
        return cls(
            host=host,
            user=_text(config, "INBOUND_IMAP_USER"),
            password=_text(config, "INBOUND_IMAP_PASSWORD", strip=False),
            security=security,
            port=_port(config, security),
            ca_file=_ca_file(config),
            folder=folders["INBOUND_IMAP_FOLDER"],
            done_folder=folders["INBOUND_IMAP_DONE_FOLDER"],
            failed_folder=folders["INBOUND_IMAP_FAILED_FOLDER"],
            interval=_seconds(config, "INBOUND_IMAP_INTERVAL", 1, 86_400),
            timeout=_seconds(config, "INBOUND_IMAP_TIMEOUT", 0.1, 3_600),
        )


FOLDERS = {
    "INBOUND_IMAP_FOLDER": "INBOX",
    "INBOUND_IMAP_DONE_FOLDER": "Processed",
    "INBOUND_IMAP_FAILED_FOLDER": "Failed",
}


def _bad(key: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{key} ({ENV_PREFIX}_{key}): {problem}")


def _text(config: Mapping[str, object], key: str, *, strip: bool = True) -> str:
    value = config.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # the environment's JSON reading turns "123456" into a number
    if value is None or value == "":
        raise _bad(key, "must be set for inbound imap")
    if not isinstance(value, str):
        raise _bad(key, f"{value!r} is not text; quote it: {ENV_PREFIX}_{key}='\"...\"'")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _bad(key, "must not contain a line break or another control character")
    return value.strip() if strip else value


def _security(config: Mapping[str, object], host: str) -> str:
    security = str(config.get("INBOUND_IMAP_SECURITY") or "imaps").strip().lower()
    if security not in SECURITY:
        raise _bad("INBOUND_IMAP_SECURITY", f"{security!r} is not one of {', '.join(SECURITY)}")
    if security == "none" and host.lower().strip("[]") not in LOOPBACK:
        raise _bad(
            "INBOUND_IMAP_SECURITY",
            f"'none' would send the password and the mail unencrypted to {host}; "
            "use imaps or starttls (only 127.0.0.1, ::1 and localhost may use none)",
        )
    return security


def _port(config: Mapping[str, object], security: str) -> int:
    port = config.get("INBOUND_IMAP_PORT") or DEFAULT_PORTS[security]
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65_536:
        raise _bad("INBOUND_IMAP_PORT", f"{port!r} is not a port number")
    return port


def _folder(config: Mapping[str, object], key: str) -> str:
    name = _text(config, key) if config.get(key) else FOLDERS[key]
    if not name.isascii():
        raise _bad(key, f"{name!r}: use a folder name in plain ASCII letters")
    return name


def _ca_file(config: Mapping[str, object]) -> str | None:
    path = config.get("INBOUND_IMAP_CA_FILE")
    if not path:
        return None
    if not isinstance(path, str) or not os.path.isfile(path):
        raise _bad("INBOUND_IMAP_CA_FILE", f"{path!r} is not a file of PEM certificates")
    return path


def _seconds(config: Mapping[str, object], key: str, low: float, high: float) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(key, f"{value!r} is not a number of seconds between {low:g} and {high:g}")
    return float(value)
