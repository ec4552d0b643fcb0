"""CSRF tokens of the status page's forms, tied to the link and the form's purpose.

The page sets no cookie, so Flask-WTF's session token cannot protect it: each form carries an
HMAC-SHA256 of the link's hash and the form's purpose under the app's secret key instead, checked
in constant time. Only someone who opened the page (who holds the link) can post its forms.
"""

from __future__ import annotations

import hashlib
import hmac

PURPOSES = frozenset({"news", "withdraw", "survey", "my_data"})


def form_token(secret_key: str, token_hash: str, purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown form purpose {purpose!r}")
    message = f"status-page:{purpose}:{token_hash}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def check_form_token(secret_key: str, token_hash: str, purpose: str, posted: str | None) -> bool:
    """Whether ``posted`` is the form's token; compared in constant time."""
    expected = form_token(secret_key, token_hash, purpose)
    return hmac.compare_digest(expected.encode(), (posted or "").encode())
