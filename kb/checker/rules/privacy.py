"""KB-PRIV (errors): personal and secret data, found anywhere in the source, code included.

Each finding gives the position and a masked or placeholder suggestion. Official hotlines
(400/800 numbers, 12345, 95xxx) are not personal data and are left alone; documentation
addresses (192.0.2.0/24 and friends) and example domains are what authors should use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from kb.checker.context import CheckContext
from kb.checker.document import Document
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding

_MOBILE = re.compile(
    r"(?<![0-9A-Za-z_.\-+])(?:\+?86[ \-]?)?(1[3-9]\d)([ \-]?)(\d{4})\2(\d{4})(?![0-9A-Za-z_])"
)
_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z_.\-])(?:[(（](0\d{2,3})[)）][ \-]?|(0\d{2,3})[ \-])(\d{7,8})"
    r"(?:[ \-]?(?:转|ext\.?|-)[ ]?\d{1,5})?(?![0-9A-Za-z_])"
)
_LANDLINE_BARE = re.compile(r"(?:电话|座机|联系方式|Tel|TEL|tel)[^\d\n]{0,8}(0\d{9,11})(?!\d)")
_ID = re.compile(r"(?<![\dA-Za-z])(\d{6})(\d{8})(\d{3})([\dXx])(?![\dA-Za-z])")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])([A-Za-z0-9._%+\-]{1,64})@((?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24})(?![A-Za-z0-9\-])"
)
_IPV4 = re.compile(
    r"(?<![A-Za-z0-9_.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)(/\d{1,2})?"
)
_PASSWORD = re.compile(
    r"(?i)(?:password|passwd|pwd|pass|密码|口令)[ \t]*(?:[:=：]|是|为)[ \t]*"
    r"[\"']?([^\s\"'，。；;,`）)】]{3,64})"
)
_PASSWORD_OPTION = re.compile(r"(?:(?<=\s)-p|--password[= ])(['\"]?)([^\s'\"<>【]{3,64})\1(?=\s|$)")
_MYSQL_USER = re.compile(r"\s-u\s?\S")
_USER_PASS_HOST = re.compile(r"(?<![\w/])([A-Za-z_][\w]{0,30})/([^\s/@<>【]{3,64})@[\w.\-]{1,100}")
_IDENTIFIED_BY = re.compile(r"(?i)identified\s+by\s+['\"]([^'\"\n]{1,64})['\"]")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]{1,10} ){0,3}PRIVATE KEY-----")
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,80}|xox[abprs]-[A-Za-z0-9\-]{10,80}"
    r"|kb_[A-Za-z0-9_\-]{40,60}|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"|sk-[A-Za-z0-9]{20,80})(?![A-Za-z0-9])"
)
_BEARER = re.compile(r"(?i)bearer[ \t]+([A-Za-z0-9._~+/=\-]{16,400})")
_SECRET_ASSIGN = re.compile(
    r"(?i)(?:api[_\-]?key|access[_\-]?key(?:[_\-]?id)?|secret(?:[_\-]?key)?|app[_\-]?secret|token|私钥|密钥|令牌)"
    r"[ \t]*(?:[:=：]|是|为)[ \t]*[\"']?([A-Za-z0-9_\-+/=.]{16,200})"
)
_LICENCE = re.compile(r"(?<![A-Za-z0-9\-])[A-Z0-9]{4,6}(?:-[A-Z0-9]{4,6}){3,5}(?![A-Za-z0-9\-])")
_LICENCE_ASSIGN = re.compile(
    r"(?i)(?<![A-Za-z])(?:序列号|激活码|授权码|注册码|许可证号|产品密钥"
    r"|license[ _\-]?key|serial(?:[ _\-]?(?:no|number))?|SN)"
    r"[ \t]*(?:[:=：]|是|为)[ \t]*([A-Za-z0-9\-]{8,64})"
)

# local parts of role addresses (a service desk, not a person) and example domains
ROLE_MAILBOXES = frozenset(
    "service support help helpdesk kefu kf fuwu info contact webmaster postmaster noreply no-reply "
    "hotline office admin git security abuse sales market feedback".split()
)
EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net", "example.cn")
EXAMPLE_TLDS = ("example", "test", "invalid", "localhost", "local")
PLACEHOLDER = re.compile(
    r"^(?:[xX*#?•.]+|[<【{\[$%].*|.*[>】}]$|your.*|YOUR.*|示例.*|\*+.*|.*\*{3,}.*)$"
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _scan(
    doc: Document, pattern: re.Pattern[str], group: int = 0
) -> Iterator[tuple[re.Match[str], int, int]]:
    """Matches over the whole source (one C-level pass), with 1-based line and column."""
    for m in pattern.finditer(doc.source):
        line, column = doc.locate(m.start(group))
        yield m, line, column


def _fixed(doc: Document, line: int, column: int, old: str, new: str) -> str:
    """The source line with ``old`` (found at ``column``) replaced by ``new``: the suggested fix."""
    text = doc.line_text(line)
    if len(text) > 500:
        return new  # a whole overlong line is no use as a suggestion: give the replacement
    start = column - 1
    if text[start : start + len(old)] != old:
        return text.replace(old, new, 1)
    return text[:start] + new + text[start + len(old) :]


def _placeholder(value: str) -> bool:
    value = value.strip()
    return bool(PLACEHOLDER.match(value)) or len(set(value.lower())) <= 2


def _mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    hidden = max(len(value) - keep_start - keep_end, 1)
    return value[:keep_start] + "*" * hidden + (value[-keep_end:] if keep_end else "")


@rule("KB-PRIV-001", "error", "手机号码")
def mobile_numbers(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for m, line, column in _scan(doc, _MOBILE):
        masked = f"{m.group(1)}{m.group(2)}****{m.group(2)}{m.group(4)}"
        yield r.at(
            f"出现了手机号码“{masked}”。个人手机号不能写进知识库文章，"
            "请删除，或改写为单位服务热线（如 400/800 热线、12345）。",
            line,
            column,
            fix=_fixed(doc, line, column, m.group(), masked),
        )


def _official(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return digits.startswith(("400", "800")) or digits in ("12345",) or digits.startswith("95")


@rule("KB-PRIV-002", "error", "座机号码")
def landline_numbers(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    hits = [
        (m.start(), m.group(), m.group(1) or m.group(2), m.group(3))
        for m in _LANDLINE.finditer(doc.source)
    ]
    for m in _LANDLINE_BARE.finditer(doc.source):
        number = m.group(1)
        split = 4 if number[1] in "3456789" else 3  # 010, 020…029 have three-digit area codes
        hits.append((m.start(1), number, number[:split], number[split:]))
    for start, written, area, local in sorted(hits):
        if _official(area + local):
            continue
        masked = f"{area}-{_mask_middle(local, 0, 2)}"
        line, column = doc.locate(start)
        yield r.at(
            f"出现了座机号码“{masked}”。个人或内部电话不能写进文章，请删除，"
            "或改写为单位对外服务热线。",
            line,
            column,
            fix=_fixed(doc, line, column, written, masked),
        )


def _valid_id(digits: str, today: date) -> bool:
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > today:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == digits[17].upper()


@rule("KB-PRIV-003", "error", "身份证号码")
def id_numbers(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for m, line, column in _scan(doc, _ID):
        digits = m.group()
        if not _valid_id(digits, ctx.today):
            continue
        masked = digits[:6] + "********" + digits[-4:]
        yield r.at(
            f"出现了身份证号码“{masked}”。身份证号属于个人敏感信息，不能写进文章，"
            "请删除或改为【身份证号】这样的占位符。",
            line,
            column,
            fix=_fixed(doc, line, column, digits, "【身份证号】"),
        )


def _personal_email(local: str, domain: str) -> bool:
    domain = domain.lower()
    if domain in EXAMPLE_DOMAINS or domain.endswith(tuple("." + d for d in EXAMPLE_DOMAINS)):
        return False
    if domain.rsplit(".", 1)[-1] in EXAMPLE_TLDS:
        return False
    return local.lower() not in ROLE_MAILBOXES


@rule("KB-PRIV-004", "error", "个人电子邮箱")
def personal_emails(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for m, line, column in _scan(doc, _EMAIL):
        local, domain = m.group(1), m.group(2)
        if not _personal_email(local, domain):
            continue
        masked = f"{local[:1]}***@{domain}"
        yield r.at(
            f"出现了个人电子邮箱“{masked}”。请删除个人邮箱，"
            "需要时写单位的服务邮箱（如 service@单位域名），"
            "示例地址请用 user@example.com。",
            line,
            column,
            fix=_fixed(doc, line, column, m.group(), masked),
        )


@rule("KB-PRIV-005", "error", "内网 IP 地址")
def private_addresses(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for m, line, column in _scan(doc, _IPV4):
        address = ".".join(m.groups()[:4])
        octets = [int(g) for g in m.groups()[:4]]
        if any(o > 255 for o in octets):
            continue
        a, b = octets[0], octets[1]
        # RFC 1918 only: documentation ranges (192.0.2.0/24 …) are what authors should use
        if not (a == 10 or (a == 172 and 16 <= b <= 31) or (a == 192 and b == 168)):
            continue
        if m.group(5) and octets[3] == 0:
            continue  # a network range such as 192.168.0.0/16 names no machine
        yield r.at(
            f"出现了内网 IP 地址“{a}.{b}.*.*”。真实的内网地址会暴露单位网络结构，"
            "请改为文档示例地址 192.0.2.10，或写作【打印机 IP 地址】这样的占位符。",
            line,
            column,
            fix=_fixed(doc, line, column, address, "192.0.2.10"),
        )


@rule("KB-PRIV-006", "error", "密码")
def passwords(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    src = doc.source
    hits: dict[int, str] = {}
    for pattern, group in (
        (_PASSWORD, 1),
        (_PASSWORD_OPTION, 2),
        (_USER_PASS_HOST, 2),
        (_IDENTIFIED_BY, 1),
    ):
        for m in pattern.finditer(src):
            if pattern is _PASSWORD_OPTION and "--password" not in m.group():
                line, _ = doc.locate(m.start())
                if not _MYSQL_USER.search(doc.line_text(line)):
                    continue  # "-p" is a password only on a command that also names a user
            hits.setdefault(m.start(group), m.group(group))
    for start, value in sorted(hits.items()):
        if _placeholder(value) or not re.search(r"[A-Za-z0-9]", value):
            continue
        if re.match(r"[\u4e00-\u9fff]", value):
            continue  # a Chinese phrase ("密码为空"), not a password
        line, column = doc.locate(start)
        yield r.at(
            "出现了明文密码。密码不能写进文章，请改为【数据库密码】这样的占位符，并提醒读者使用本单位设置的密码。",
            line,
            column,
            fix=_fixed(doc, line, column, value, "【密码】"),
        )


@rule("KB-PRIV-007", "error", "密钥或令牌")
def keys_and_tokens(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    src = doc.source
    hits = {m.start() for m in _PRIVATE_KEY.finditer(src)}
    hits |= {m.start() for m in _TOKENS.finditer(src)}
    hits |= {m.start(1) for m in _BEARER.finditer(src) if not _placeholder(m.group(1))}
    for m in _SECRET_ASSIGN.finditer(src):
        value = m.group(1)
        if not _placeholder(value) and re.search(r"\d", value) and re.search(r"[A-Za-z]", value):
            hits.add(m.start(1))
    for start in sorted(hits):
        line, column = doc.locate(start)
        token = re.match(r"[^\s\"'，。；;,`]{1,400}", doc.source[start:])
        yield r.at(
            "出现了密钥、私钥或访问令牌。这类凭据一旦公开即可被他人冒用，请立即删除，改为【访问令牌】这样的占位符，"
            "并通知管理员作废已泄露的凭据。",
            line,
            column,
            fix=_fixed(doc, line, column, token.group(), "【访问令牌】") if token else None,
        )


def _looks_like_key(value: str) -> bool:
    chars = value.replace("-", "")
    return (
        bool(re.search(r"\d", chars))
        and bool(re.search(r"[A-Za-z]", chars))
        and len(set(chars.upper()) - {"X"}) >= 4
    )


@rule("KB-PRIV-008", "error", "序列号或授权码")
def licence_keys(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    src = doc.source
    hits: dict[int, str] = {}
    for m in _LICENCE.finditer(src):
        if _looks_like_key(m.group()):
            hits.setdefault(m.start(), m.group())
    for m in _LICENCE_ASSIGN.finditer(src):
        if _looks_like_key(m.group(1)):
            hits.setdefault(m.start(1), m.group(1))
    for start, value in sorted(hits.items()):
        line, column = doc.locate(start)
        yield r.at(
            f"出现了序列号、激活码或授权码“{_mask_middle(value, 4, 0)}”。这些信息属于单位资产，"
            "请删除或改为【激活码】这样的占位符。",
            line,
            column,
            fix=_fixed(doc, line, column, value, "【激活码】"),
        )
