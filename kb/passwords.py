"""The password policy (等保2.0 三级 身份鉴别: complexity) and generated initial passwords.

One function, ``problem``, answers why a password is refused, in Chinese, and is used by the
CLI, the admin pages and the 修改密码 page alike. Guessability is judged offline by zxcvbn
(dictionaries of common passwords, names, keyboard walks, dates, l33t substitutions).
"""

from __future__ import annotations

import secrets
import string

from zxcvbn import zxcvbn

MIN_LENGTH = 8
# scrypt of a megabyte is a cheap denial of service; no one types more than this
MAX_LENGTH = 128
MIN_CLASSES = 3
# zxcvbn 3 = "safely unguessable" (about 10^8-10^10 guesses): the common/guessable ones
# ("Passw0rd!", "P@ssw0rd123", "Zhang123456") score 1
MIN_SCORE = 3
# zxcvbn's run time grows with length; its authors check only a prefix
_ZXCVBN_PREFIX = 64
# words anyone guessing at this service would try first
_SITE_WORDS = ["kb", "guangxi", "xinchuang", "gxxc", "shujuju", "zhishiku", "admin", "editor"]

_WARNINGS = {
    "This is a top-10 common password.": "这是最常见的密码之一。",
    "This is a top-100 common password.": "这是最常见的密码之一。",
    "This is a very common password.": "这是很常见的密码。",
    "This is similar to a commonly used password.": "与常见密码过于相似。",
    "A word by itself is easy to guess.": "单个单词容易被猜出。",
    "Names and surnames by themselves are easy to guess.": "姓名容易被猜出。",
    "Common names and surnames are easy to guess.": "常见姓名容易被猜出。",
    "Straight rows of keys are easy to guess.": "键盘上连续的按键容易被猜出。",
    "Short keyboard patterns are easy to guess.": "键盘图案容易被猜出。",
    'Repeats like "aaa" are easy to guess.': "重复的字符容易被猜出。",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': (
        "重复的片段容易被猜出。"
    ),
    "Sequences like abc or 6543 are easy to guess.": "abc、6543 这样的顺序字符容易被猜出。",
    "Recent years are easy to guess.": "近几年的年份容易被猜出。",
    "Dates are often easy to guess.": "日期容易被猜出。",
}


def classes(password: str) -> int:
    """How many of: lower-case letters, upper-case letters, digits, anything else."""
    return sum(
        (
            any(c in string.ascii_lowercase for c in password),
            any(c in string.ascii_uppercase for c in password),
            any(c in string.digits for c in password),
            any(not (c.isascii() and c.isalnum()) for c in password),
        )
    )


def problem(password: str, *, username: str = "", display_name: str = "") -> str | None:
    """Why ``password`` is refused (a Chinese sentence), or None when it is acceptable."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符。"
    if len(password) > MAX_LENGTH:
        return f"密码不能超过 {MAX_LENGTH} 个字符。"
    if password.strip() != password:
        return "密码首尾不能是空格。"
    if classes(password) < MIN_CLASSES:
        return "密码须包含大写字母、小写字母、数字、符号中的至少三类。"
    if username and len(username) >= 3 and username.lower() in password.lower():
        return "密码不能包含用户名。"
    inputs = [w for w in (username, display_name, *_SITE_WORDS) if w]
    result = zxcvbn(password[:_ZXCVBN_PREFIX], user_inputs=inputs)
    if result["score"] < MIN_SCORE:
        warning = _WARNINGS.get(result["feedback"].get("warning") or "", "")
        return (
            f"密码过于常见或容易被猜出。{warning}"
            "请使用更长、更无规律的密码，例如几个不相关的词加上数字和符号。"
        )
    return None


def generate() -> str:
    """A random initial password that passes the policy (shown once, changed at sign-in)."""
    while True:
        candidate = secrets.token_urlsafe(12)
        if problem(candidate) is None:
            return candidate
