"""The product catalogue (shipped YAML): which products have reached end of life, and when.

Articles name products and operating systems in front matter; the timeliness rule looks each up
here by name or alias, ignoring case and spaces (authors write "麒麟V10" and "麒麟 V10" alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

SHIPPED = Path(__file__).parent / "data" / "products.yaml"


@dataclass(frozen=True)
class Product:
    name: str
    category: str
    aliases: tuple[str, ...]
    end_of_life: date | None


def normalise(name: str) -> str:
    return "".join(name.split()).casefold()


class Catalogue:
    def __init__(self, products: list[Product]) -> None:
        self.products = products
        self._by_name: dict[str, Product] = {}
        for p in products:
            for form in (p.name, *p.aliases):
                self._by_name.setdefault(normalise(form), p)

    def find(self, name: str) -> Product | None:
        return self._by_name.get(normalise(name))


def parse(text: str) -> Catalogue:
    data = yaml.safe_load(text) or []
    products = []
    for item in data:
        eol = item.get("end_of_life")
        if isinstance(eol, str):
            eol = date.fromisoformat(eol)
        products.append(
            Product(
                name=str(item["name"]),
                category=str(item.get("category") or ""),
                aliases=tuple(str(a) for a in item.get("aliases") or []),
                end_of_life=eol if isinstance(eol, date) else None,
            )
        )
    return Catalogue(products)


@lru_cache(maxsize=1)
def shipped() -> Catalogue:
    return parse(SHIPPED.read_text(encoding="utf-8"))
