"""Personal data in free text (readers' feedback comments): masked wherever it is shown.

A reader explaining why an article did not help often adds "请回电 13812345678" or an e-mail
address. Editors, curators and the API see such text masked; only a curator may reveal the
original (``reveal``), and every reveal is audited (个人信息保护法: 最小必要).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from kb import audit
from kb.permissions import policy
from kb.permissions.policy import Gate

# 18-digit resident ID (last may be X) and the old 15-digit form, not inside a longer number
_ID = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])"
)
_ID15 = re.compile(r"(?<![0-9])[1-9]\d{14}(?![0-9])")
# mainland mobile numbers, optionally +86 / 86 and spaced or dashed in 3-4-4
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9])")
# landlines: area code 0xx(x), then 7-8 digits, e.g. 0771-5551234
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}[- ]?\d{7,8}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _keep_ends(match: re.Match[str], head: int, tail: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters (counting digits and letters);
    a negative ``head`` counts from the end (a mobile number keeps its 3-digit prefix)."""
    text = match.group(0)
    digits = [i for i, c in enumerate(text) if c.isalnum()]
    if head < 0:
        head = len(digits) + head
    hidden = set(digits[head : len(digits) - tail])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


def _mask_email(match: re.Match[str]) -> str:
    local, _, domain = match.group(0).partition("@")
    return f"{local[:1]}***@{domain}"


def mask(text: str | None) -> str:
    """``text`` with ID numbers, phone numbers and e-mail addresses masked."""
    if not text:
        return text or ""
    text = _ID.sub(lambda m: _keep_ends(m, 3, 2), text)
    text = _ID15.sub(lambda m: _keep_ends(m, 3, 2), text)
    text = _MOBILE.sub(lambda m: _keep_ends(m, -8, 4), text)
    text = _LANDLINE.sub(lambda m: _keep_ends(m, 4, 2), text)
    return _EMAIL.sub(_mask_email, text)


def has_personal_data(text: str | None) -> bool:
    return bool(text) and mask(text) != text


def reveal(s: Session, user: Any, request_id: int) -> str:
    """The unmasked comment of a revision request, for a curator; audited."""
    from kb import feedback

    policy.require_gate(user, Gate.REVEAL)
    req = feedback.get_request(s, user, request_id)
    audit.record(s, user, "feedback.reveal", "revision_request", req.id)
    return req.comment or ""
