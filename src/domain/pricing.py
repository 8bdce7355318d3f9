"""What a turn costs, from token counts and a per-model price table.

Prices are USD per million tokens as OpenAI publishes them; an unknown model costs 0.0 and is
reported as unpriced rather than guessed. The longest matching prefix wins so dated snapshots
(``gpt-4.1-mini-2025-04-14``) find their family's price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float


PRICES: Mapping[str, Price] = {
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-realtime": Price(4.00, 16.00),
    "gpt-realtime-mini": Price(0.60, 2.40),
}


def price_for(model: str) -> Price | None:
    best: str | None = None
    for name in PRICES:
        if model.startswith(name) and (best is None or len(name) > len(best)):
            best = name
    return PRICES[best] if best else None


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    price = price_for(model)
    if price is None:
        return 0.0
    total = (
        input_tokens * price.input_per_million + output_tokens * price.output_per_million
    ) / 1_000_000
    return round(total, 8)
