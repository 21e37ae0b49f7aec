"""The exclusion rule of the asset pool (docs/universe.md), clause by clause."""

from __future__ import annotations

import pytest

from cde_exchanges.universe.exclusions import exclusion_reason, is_leveraged_token

LISTED = {"BTC", "ETH", "XRP", "EOS", "LINK", "JUP", "SYRUP", "SUPER", "USDC", "BNB"}


@pytest.mark.parametrize("base", ["BTCUP", "BTCDOWN", "ETHBULL", "EOSBEAR", "XRPBEAR", "LINKUP", "BTC3L",
                                  "ETH5S"])
def test_leveraged_tokens_of_a_listed_underlying_are_excluded(base: str) -> None:
    assert is_leveraged_token(base, LISTED)
    assert exclusion_reason(base, known_bases=LISTED) == "leveraged token"


@pytest.mark.parametrize("base", ["JUP", "SYRUP", "SUPER", "BTC", "UP", "DOWN", "BNB"])
def test_coins_whose_names_merely_end_like_a_leveraged_token_stay(base: str) -> None:
    assert not is_leveraged_token(base, LISTED)
    assert exclusion_reason(base, known_bases=LISTED) is None


def test_without_a_listing_the_underlying_needs_three_characters() -> None:
    assert is_leveraged_token("BTCUP") and is_leveraged_token("XRPBULL")
    assert not is_leveraged_token("JUP")
    # the underlying must be listed when the listing is known: NOPEUP's underlying NOPE is not
    assert not is_leveraged_token("NOPEUP", LISTED) and is_leveraged_token("NOPEUP")


@pytest.mark.parametrize(("base", "reason"), [("USDC", "stablecoin base"), ("fdusd", "stablecoin base"),
                                              ("TUSD", "stablecoin base"), ("DAI", "stablecoin base"),
                                              ("USDT", "stablecoin base"), ("EUR", "fiat base"),
                                              ("TRY", "fiat base"), ("SOL", None), ("PAXG", None)])
def test_stablecoin_and_fiat_bases(base: str, reason: str | None) -> None:
    assert exclusion_reason(base) == reason


def test_an_inactive_pair_is_excluded_first() -> None:
    assert exclusion_reason("BTC", active=False) == "not trading"
    assert exclusion_reason("USDC", active=False) == "not trading"
