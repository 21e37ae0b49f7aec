"""Pydantic parameter models of the builders: the single source of validation, CLI help and the
REST JSON schema."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

if TYPE_CHECKING:  # numpy loads on first use: registering builders stays cheap
    import numpy as np

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
DAY_SECONDS = 86_400
WINDOW_DAYS_DEFAULT = 7


def interval_seconds(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` → seconds (raises ValueError otherwise)."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"interval '{text}' is not <number><s|m|h|d>, e.g. 1s, 15m, 1h, 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def interval_label(seconds: int) -> str:
    """Canonical short label of an interval (the largest unit that divides it): 3600 → ``1h``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _utc_day(key: Any) -> Any:
    """The UTC day of a datetime key (a string with a time part too), which must be 00:00 UTC;
    other keys are left to pydantic's date parsing."""
    shown = key
    if isinstance(key, str):
        text = key.strip()
        try:
            key = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            return key
    if not isinstance(key, datetime):  # pandas.Timestamp is a datetime
        return key
    if key.tzinfo is not None:
        key = key.astimezone(UTC)
    if key.time() != time(0):
        raise ValueError(f"thresholds key {shown} is {key:%Y-%m-%d %H:%M} UTC, not the start of a UTC "
                         "day: key thresholds by date (or timestamps at 00:00 UTC)")
    return key.date()


class _Params(BaseModel):
    """Every builder parameter is a finite number: an infinite threshold (or ``bars_per_day``,
    ``expected_ticks_max`` …) builds no bar, or one per trade, and cannot be named in a spec id."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TimeBarParams(_Params):
    """One bar per UTC-epoch-aligned interval."""

    interval: str = Field("1h", description="bar length from 1s to 1d, e.g. 1s, 5m, 1h, 4h, 1d; "
                          "intervals are aligned to the UTC epoch")
    fill: bool = Field(False, description="emit empty intervals as zero-volume bars at the previous close "
                       "(default: omit them)")

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        seconds = interval_seconds(value)
        if not 1 <= seconds <= DAY_SECONDS:
            raise ValueError(f"interval '{value}' is outside 1s..1d")
        return interval_label(seconds)

    @property
    def interval_us(self) -> int:
        return interval_seconds(self.interval) * 1_000_000


class ThresholdBarParams(_Params):
    """Close a bar when its running measure (trades, base volume or quote volume) reaches the
    threshold; the threshold is fixed, or dynamic when ``bars_per_day`` is set."""

    threshold: float = Field(gt=0, description="measure per bar (trades / base units / quote units); with "
                             "bars_per_day, the threshold used until one UTC day has been seen")
    bars_per_day: float | None = Field(None, gt=0, description="dynamic threshold: at each UTC day change, "
                                       "threshold = mean daily measure of the past window_days / "
                                       "bars_per_day")
    window_days: int = Field(WINDOW_DAYS_DEFAULT, ge=1, le=366, description="trailing days of the "
                             "dynamic threshold (days without trades count as zero)")
    thresholds: dict[date, float] | None = Field(None, description="your own threshold per UTC day "
                                                 "(date -> value, e.g. a pandas Series): a day not listed "
                                                 "keeps the latest earlier listed value, days before the "
                                                 "first use threshold")

    @field_validator("thresholds", mode="before")
    @classmethod
    def _days_of_series(cls, value: Any) -> Any:
        """Accept a pandas Series / any mapping keyed by dates, datetimes or Timestamps (UTC days).

        A timestamp key must be a UTC midnight and each day given once: a Tokyo midnight is 15:00
        UTC of the day before, and a noon key cannot start a threshold at noon — both were taken
        silently as a whole UTC day (the first a day early), and a second key of the same day
        silently replaced the first."""
        if value is None or not hasattr(value, "items"):
            return value
        out: dict[Any, Any] = {}
        for key, threshold in value.items():
            day = _utc_day(key)
            if day in out:
                raise ValueError(f"thresholds give the UTC day {day} twice (key {key}): one threshold "
                                 "per day")
            out[day] = threshold
        return out

    @field_validator("thresholds")
    @classmethod
    def _positive(cls, value: dict[date, float] | None) -> dict[date, float] | None:
        if value is not None:
            if not value:
                raise ValueError("thresholds is empty")
            bad = [d for d, v in value.items() if not (v > 0 and v < float("inf"))]
            if bad:
                raise ValueError(f"threshold of {bad[0]} is {value[bad[0]]}, not a finite number > 0")
        return value

    @model_validator(mode="after")
    def _one_kind_of_dynamic(self) -> ThresholdBarParams:
        if self.thresholds is not None and self.bars_per_day is not None:
            raise ValueError("give bars_per_day or thresholds, not both")
        return self

    @field_validator("window_days")
    @classmethod
    def _window_needs_bars_per_day(cls, value: int, info: ValidationInfo) -> int:
        """It shapes only the ``bars_per_day`` threshold: alone (or with ``thresholds``) it built
        fixed-threshold bars silently, as if the user had asked for none."""
        if value != WINDOW_DAYS_DEFAULT and info.data.get("bars_per_day") is None:
            raise ValueError(f"window_days={value} needs bars_per_day (it sets the trailing days of the "
                             "dynamic threshold): give bars_per_day too, or drop window_days")
        return value

    def day_thresholds(self) -> tuple[np.ndarray, np.ndarray]:
        """(UTC day numbers, thresholds) of ``thresholds``, sorted by day."""
        import numpy as np

        days = sorted(self.thresholds or {})
        return (np.array([(d - date(1970, 1, 1)).days for d in days], dtype=np.int64),
                np.array([(self.thresholds or {})[d] for d in days], dtype=np.float64))


class InformationBarParams(_Params):
    """EWMA expectations of López de Prado's information-driven bars (AFML ch. 2.3.2)."""

    expected_ticks_init: float = Field(1000.0, gt=0, description="E[T] (trades per bar) before the first "
                                       "bar closes")
    expected_ticks_min: float = Field(100.0, gt=0, description="lower bound of E[T]: bars cannot collapse "
                                      "to single trades")
    expected_ticks_max: float = Field(10000.0, gt=0, description="upper bound of E[T]: the threshold "
                                      "cannot run away so bars never close")
    ewma_bars: int = Field(20, ge=1, description="EWMA span in bars (alpha = 2 / (span + 1)) of E[T] and "
                           "the per-trade expectations")
    side: Literal["taker", "tick_rule"] = Field("taker", description="trade sign: taker side "
                                                "(is_buyer_maker) or the tick rule on prices")

    @model_validator(mode="after")
    def _check_bounds(self) -> InformationBarParams:
        if not self.expected_ticks_min <= self.expected_ticks_init <= self.expected_ticks_max:
            raise ValueError("need expected_ticks_min <= expected_ticks_init <= expected_ticks_max")
        return self

    @property
    def alpha(self) -> float:
        return 2.0 / (self.ewma_bars + 1.0)


class ImbalanceBarParams(InformationBarParams):
    """Imbalance bars: close when |Σ b·v| reaches max(E[T] · |E[b·v]|, floor · √E[T] · E[|v|]).

    Defaults chosen so that balanced and moderately persistent flow ends most bars on the imbalance
    rule, not on the ``expected_ticks_max`` cap (docs/bars.md, "Defaults")."""

    expected_ticks_init: float = Field(100.0, gt=0, description="E[T] (trades per bar) before the first "
                                       "bar closes")
    ewma_bars: int = Field(100, ge=1, description="EWMA span in bars (alpha = 2 / (span + 1)) of E[T] and "
                           "the per-trade expectations (a short span lets one long bar run E[T] away)")
    imbalance_floor: float = Field(0.7, ge=0, le=1, description="lower bound of the threshold in random-walk "
                                   "units: floor · sqrt(E[T]) · E[|v|], the typical |imbalance| of a "
                                   "balanced bar of E[T] trades times floor, so a balanced market neither "
                                   "shrinks the threshold to zero nor lets E[T] feed on itself")


class RunBarParams(InformationBarParams):
    """Run bars: close when max(Σ buy v, Σ sell v) reaches E[T] · max(E[buy v], E[sell v])."""


def validated_params(builder: Any, params: BaseModel | dict[str, Any]) -> BaseModel:
    """``params`` checked by ``builder.Params``, or a one-line :class:`ConfigError` naming the
    parameter, the problem and (for a misspelt name) the nearest valid names."""
    from cde_core.errors import checked_params

    return checked_params(builder.Params, params, name=builder.name, owner=f"{builder.name} bars",
                          where=f"bar {builder.name}")
