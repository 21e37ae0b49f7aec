"""Feature sets: ordered lists of (factor, params) and how a selection resolves against the registry.

The ``default`` set is the curated list of built-in factors below and nothing else: installing a
factor plugin never changes it, so ``default`` means the same columns everywhere. A third-party
factor joins an output only when asked for (``--factors NAME`` or a feature-set file that lists it).
Parameterised factors expand to deterministic column names (``ret_log_24``).
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cde_core.errors import CdeError, ConfigError, NotFoundError, first_validation_problem
from cde_core.lake import LakeName
from cde_core.plugins import PluginHost, get_plugins


class FactorSpec(BaseModel):
    """One factor with its parameters (a parameterised factor appears once per parameter set)."""

    model_config = ConfigDict(extra="forbid")

    factor: str = Field(description="registered factor name")
    params: dict[str, Any] = Field(default_factory=dict, description="parameters (defaults if omitted)")


class FeatureSet(BaseModel):
    """A named, explicit, ordered list of factor specs (what a feature-set YAML file holds)."""

    model_config = ConfigDict(extra="forbid")

    name: LakeName = Field(description="feature set name (part of the features spec id, so a lake name)")
    factors: list[FactorSpec] = Field(min_length=1, max_length=5000,
                                      description="factors with their parameters, in output order")


def _windows(factor: str, windows: Iterable[int]) -> list[FactorSpec]:
    return [FactorSpec(factor=factor, params={"window": w}) for w in windows]


def _default_specs() -> list[FactorSpec]:
    specs: list[FactorSpec] = []
    specs += _windows("ret_simple", (1, 4, 24, 168, 672))
    specs += _windows("ret_log", (1, 4, 12, 24, 72, 168, 336, 672))
    specs += _windows("vol_cc", (24, 72, 168))
    for name in ("vol_parkinson", "vol_gk", "vol_rs", "vol_yz"):
        specs += _windows(name, (24, 168))
    specs += _windows("atr", (14,)) + _windows("natr", (14,))
    specs += _windows("roc", (12, 48)) + _windows("rsi", (14, 24, 168))
    specs += [FactorSpec(factor="macd"), FactorSpec(factor="ppo"), FactorSpec(factor="stoch")]
    specs += _windows("willr", (14, 56)) + _windows("ma_ratio", (12, 24, 72, 168, 336))
    specs += _windows("ema_ratio", (24, 168))
    specs += [FactorSpec(factor="ma_cross", params={"fast": 24, "slow": 168}),
              FactorSpec(factor="ma_cross", params={"fast": 72, "slow": 336})]
    specs += _windows("adx", (14,)) + _windows("cci", (20,)) + _windows("aroon", (25,))
    specs += _windows("dist_high", (168,)) + _windows("dist_low", (168,)) + _windows("trend_slope", (24, 168))
    specs += _windows("volume_z", (24, 168)) + _windows("trades_z", (168,))
    specs += _windows("volume_ratio", (24, 168)) + _windows("trade_size_ratio", (168,))
    specs += [*_windows("obv", (24, 168)), FactorSpec(factor="vwap_dev_bar")]
    specs += _windows("vwap_dev", (24, 168)) + _windows("taker_buy_ratio", (1, 24, 168))
    specs += _windows("ofi_z", (24, 168)) + _windows("amihud", (24, 168)) + _windows("kyle_lambda", (168,))
    specs += _windows("mfi", (14,)) + _windows("cmf", (20,)) + _windows("corr_ret_volume", (24, 168))
    for name in ("roll_spread", "corwin_schultz", "abdi_ranaldo", "ret_autocorr"):
        specs += _windows(name, (24, 168))
    specs += _windows("var_ratio", (168,))
    specs += [FactorSpec(factor=n) for n in ("hl_range", "clv", "body_ratio", "upper_shadow", "lower_shadow")]
    specs += _windows("skew", (24, 168)) + _windows("kurt", (24, 168))
    specs += _windows("max_ret", (24,)) + _windows("min_ret", (24,))
    specs += _windows("downside_vol", (168,)) + _windows("upside_vol", (168,)) + _windows("ret_z", (168,))
    from cde_features.alphas import ALPHAS
    from cde_features.quant_sets import quant_default_specs

    specs += quant_default_specs()
    specs += [FactorSpec(factor=f"alpha_{a.number:03d}") for a in ALPHAS]
    for source in ("ret_log_24", "ret_log_168", "ret_log_672", "vol_yz_168", "rsi_14", "volume_z_24",
                   "amihud_168", "kyle_lambda_168"):
        specs.append(FactorSpec(factor="cs_rank", params={"source": source}))
    for source in ("ret_log_24", "ret_log_168", "ret_log_672", "vol_cc_168"):
        specs.append(FactorSpec(factor="cs_zscore", params={"source": source}))
    for source in ("ret_log_24", "ret_log_168"):
        specs.append(FactorSpec(factor="cs_demean", params={"source": source}))
    return specs


def default_feature_set() -> FeatureSet:
    """The ``default`` set: a fixed list of built-in factors (180+ columns), whatever is installed."""
    return FeatureSet(name="default", factors=_default_specs())


def _perp_feature_set() -> FeatureSet:
    from cde_features.quant_sets import perp_feature_set

    return perp_feature_set()


FEATURE_SETS = {"default": default_feature_set, "perp": _perp_feature_set}


def get_feature_set(name: str | FeatureSet) -> FeatureSet:
    if isinstance(name, FeatureSet):
        return name
    try:
        return FEATURE_SETS[name]()
    except KeyError:
        raise NotFoundError(f"no feature set named '{name}'",
                            hint=f"available: {', '.join(FEATURE_SETS)}") from None


@dataclass(frozen=True)
class ResolvedFactor:
    """A factor with validated params, its output columns and warm-up, ready to compute."""

    factor: Any
    params: BaseModel
    columns: tuple[str, ...]
    lookback: int
    plugin: str
    distribution: str
    version: str = ""

    @property
    def name(self) -> str:
        return str(self.factor.name)

    @property
    def group(self) -> str:
        return str(getattr(self.factor, "group", ""))

    @property
    def cross_sectional(self) -> bool:
        return bool(getattr(self.factor, "cross_sectional", False))

    def spec(self) -> FactorSpec:
        return FactorSpec(factor=self.name, params=self.params.model_dump(mode="json"))

    def manifest(self) -> dict[str, Any]:
        """What the features lake records about this factor: name, params, columns and the
        distribution (with version) that produced it, so a result can be traced and reproduced."""
        return {**self.spec().model_dump(mode="json"), "columns": list(self.columns),
                "plugin": self.plugin, "distribution": self.distribution, "version": self.version}


def _resolve_one(host: PluginHost, spec: FactorSpec) -> ResolvedFactor:
    entry = host.factors.entry(spec.factor)
    factor = entry.obj
    try:
        params = factor.Params.model_validate(spec.params)
    except ValidationError as exc:
        key, message = first_validation_problem(exc, root=spec.factor)
        raise ConfigError(f"bad params for factor '{spec.factor}': {message}", where=key,
                          hint=f"see `cde features list` for {spec.factor}'s parameters") from None
    from cde_features.factor_calls import factor_problem

    try:
        raw_columns, raw_lookback = factor.columns(params), factor.lookback(params)
    except CdeError:
        raise
    except Exception as exc:  # a third-party factor's own code: name it, never "internal error"
        from cde_core.plugin_checks import describe

        raise factor_problem(factor, f"failed in columns/lookback: {describe(exc)}") from exc
    # a string would silently become one column per character, a float lookback be cut
    names = list(raw_columns) if isinstance(raw_columns, list | tuple) else None
    if names is None or not names or not all(isinstance(c, str) and c for c in names) \
            or len(set(names)) != len(names):
        raise factor_problem(factor, f"returned {raw_columns!r} from columns; expected a list of distinct, "
                                     "non-empty column names")
    if isinstance(raw_lookback, bool) or not isinstance(raw_lookback, numbers.Integral) or raw_lookback < 0:
        raise factor_problem(factor, f"returned {raw_lookback!r} from lookback; expected a whole number of bars "
                                     "(0 or more)")
    columns, lookback = tuple(names), int(raw_lookback)
    return ResolvedFactor(factor, params, columns, lookback, entry.plugin, entry.distribution, entry.version)


def resolve(feature_set: str | FeatureSet = "default", *, select: Sequence[str] | None = None,
            params: Mapping[str, Mapping[str, Any]] | None = None,
            host: PluginHost | None = None) -> list[ResolvedFactor]:
    """Resolve a feature set against the registry, keep the ``select``-ed factors, apply ``params``.

    ``select`` items match a factor name, a group, or a glob over factor names and column names
    (``ret_*``, ``*_168``); a registered factor outside the set can be selected by name (default
    params). ``params`` maps a factor name to parameter overrides for all its entries. A factor listed
    twice with the same params counts once; two different factors producing one column is an error
    naming both (a plugin's factor never silently replaces or is replaced by a built-in's column), but
    a column selector (``ret_log_1``) picks only the first factor producing the column, built-ins
    first. A cross-sectional transform whose source is missing is an error.
    """
    host = host or get_plugins()
    fs = get_feature_set(feature_set)
    overrides = dict(params or {})
    for name in overrides:
        if name not in host.factors:
            host.factors.entry(name)  # raises NotFoundError (nearest names) or names the broken plugin
    resolved = [_resolve_one(host, _with_overrides(spec, overrides)) for spec in fs.factors]
    if select:
        listed = {s.factor for s in fs.factors}
        named = set(select) | set(overrides)
        for name in [e.name for e in sorted(host.factors, key=lambda e: not e.builtin)]:  # built-ins first
            if name in listed:
                continue
            try:  # a factor outside the set, with its default params; one that cannot be is skipped
                resolved.append(_resolve_one(host, _with_overrides(FactorSpec(factor=name), overrides)))
            except CdeError:
                if name in named:  # ...unless it was asked for by name
                    raise
        resolved = _apply_selection(resolved, select, host)
    return _dedupe(resolved)


def _with_overrides(spec: FactorSpec, overrides: Mapping[str, Mapping[str, Any]]) -> FactorSpec:
    if spec.factor not in overrides:
        return spec
    return FactorSpec(factor=spec.factor, params={**spec.params, **overrides[spec.factor]})


def _apply_selection(resolved: list[ResolvedFactor], select: Sequence[str],
                     host: PluginHost) -> list[ResolvedFactor]:
    chosen: list[ResolvedFactor] = []
    for item in select:
        hits = [r for r in resolved if r.name == item or r.group == item or fnmatch.fnmatchcase(r.name, item)]
        producers: dict[str, ResolvedFactor] = {}  # a matching column's first producer (built-ins first)
        for r in resolved:
            for c in r.columns:
                if fnmatch.fnmatchcase(c, item):
                    producers.setdefault(c, r)
        for r in producers.values():
            if not any(r is h for h in hits):
                hits.append(r)
        if not hits:
            withheld = host.factors.withheld(item)
            if withheld is not None:  # a factor of a broken plugin: say so, not "no factor matches"
                raise withheld.error()
            known = sorted({r.name for r in resolved} | {c for r in resolved for c in r.columns})
            close = difflib.get_close_matches(item, known, n=5)
            hint = f"did you mean {', '.join(close)}?" if close else "see `cde features list`"
            if host.factors.broken_note:
                hint += f"; {host.factors.broken_note}; see `cde plugins`"
            raise NotFoundError(f"no factor, group or column matches '{item}'", hint=hint)
        chosen += [h for h in hits if h not in chosen]
    order = {id(r): i for i, r in enumerate(resolved)}
    return sorted(chosen, key=lambda r: order[id(r)])


def _dedupe(resolved: list[ResolvedFactor]) -> list[ResolvedFactor]:
    seen: set[str] = set()
    out: list[ResolvedFactor] = []
    producer: dict[str, ResolvedFactor] = {}
    for r in resolved:
        clash = [c for c in r.columns if c in seen]
        first = producer[clash[0]] if clash else None
        if first is not None and len(clash) == len(r.columns) and first.spec() == r.spec():
            continue  # the same factor with the same params, listed twice
        if first is not None:
            other = "" if first.name == r.name else f" (already produced by factor '{first.name}' from " \
                f"{first.distribution})"
            raise ConfigError(f"factor '{r.name}' from {r.distribution} would produce column(s) "
                              f"{', '.join(clash)} twice{other}", hint="remove one of the clashing entries")
        seen.update(r.columns)
        producer.update(dict.fromkeys(r.columns, r))
        out.append(r)
    produced: set[str] = set()
    for r in out:
        if r.cross_sectional and hasattr(r.factor, "grid_inputs"):
            for col in r.factor.grid_inputs(r.params):
                if col not in produced and col not in _BAR_COLUMNS:
                    raise ConfigError(f"factor '{r.name}' needs column '{col}', which no earlier factor "
                                      "produces", hint=f"select the factor producing '{col}' as well")
        produced.update(r.columns)
    return out


_BAR_COLUMNS = frozenset({"open", "high", "low", "close", "volume", "quote_volume", "vwap", "n_trades",
                          "buy_volume", "buy_quote_volume"})


def feature_set_id(feature_set: str | FeatureSet, resolved: Sequence[ResolvedFactor],
                   host: PluginHost | None = None) -> str:
    """``<set name>`` when the resolution equals a built-in named set's own, else ``<name>-<hash8>``
    (a user's set file always gets the hash: two files with one name never share a lake spec)."""
    fs = get_feature_set(feature_set)
    canonical = [r.spec().model_dump(mode="json") for r in resolved]
    builtin = isinstance(feature_set, str) and feature_set in FEATURE_SETS
    if builtin and canonical == [r.spec().model_dump(mode="json") for r in resolve(fs, host=host)]:
        return fs.name
    digest = hashlib.sha1(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:8]
    return f"{fs.name}-{digest}"
