"""Hook specifications: the whole contract between cde and its plugins.

Every capability of cde, the built-in ones included, arrives through these hooks. A plugin is a
module (named by an entry point in the group ``cde``) that implements some of them with
``@cde_core.hookimpl``. Each ``register_<kind>`` hook receives a ``register`` callable; the plugin
calls it once for each object it offers. Objects must satisfy the protocol named in the hook's
docstring (see :mod:`cde_core.contracts`; typed optional bases in :mod:`cde_core.authoring`); cde
checks the protocol at registration time and reports a violation as a broken plugin rather than
failing later. Names are unique per kind: the first registration (built-ins first, then third-party
plugins by distribution name) keeps a name, a later one is rejected and reported. Prove an object
with the kit in :mod:`cde_core.testing` (``check_factor`` …).

Minimal plugin module::

    from cde_core import hookimpl

    @hookimpl
    def register_factors(register):
        register(MyFactor())

and in the plugin's ``pyproject.toml``::

    [project.entry-points.cde]
    my_plugin = "my_package.plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cde_core.markers import hookspec

if TYPE_CHECKING:
    from collections.abc import Callable


@hookspec
def register_exchanges(register: Callable[[Any], None]) -> None:
    """Offer exchange adapters.

    Call ``register(adapter)`` for each adapter. An adapter satisfies
    :class:`cde_core.contracts.exchange.Exchange`: a unique ``name`` (``"binance"``, ``"okx"``), a
    ``summary``, a pydantic ``Params`` model, the ``markets`` it serves, and the methods that turn a
    :class:`~cde_core.contracts.exchange.ArchiveRequest` into verified trades in the lake.

    Used by ``cde download``, ``cde lake`` and the asset pool.

    Example::

        @hookimpl
        def register_exchanges(register):
            register(MyExchange())
    """


@hookspec
def register_bar_builders(register: Callable[[Any], None]) -> None:
    """Offer bar builders (time, tick, volume, dollar, imbalance, run …).

    Call ``register(builder)`` for each builder. A builder satisfies
    :class:`cde_core.contracts.bars.BarBuilder`: ``name``, ``summary``, a pydantic ``Params`` model,
    and a streaming interface (``new_state`` / ``update`` / ``flush``) whose output follows
    :data:`cde_core.schemas.BARS_SCHEMA`. The state must carry across batches so that any chunking of
    the trades gives the same bars.

    Used by ``cde aggregate`` and the aggregation API.

    Example::

        @hookimpl
        def register_bar_builders(register):
            register(MyBarBuilder())
    """


@hookspec
def register_factors(register: Callable[[Any], None]) -> None:
    """Offer factors (feature columns computed from bars).

    Call ``register(factor)`` for each factor. A factor satisfies
    :class:`cde_core.contracts.factor.Factor`: ``name``, ``group``, ``summary``, ``inputs`` (bar
    columns it reads), a pydantic ``Params`` model, ``lookback(params)`` (bars needed before the
    first valid value), ``columns(params)`` (deterministic output names) and ``compute``. A factor
    must never look ahead: the value at bar *t* may use bars up to and including *t* only
    (``cde_core.testing.check_factor`` proves it). Third-party factors never join the built-in
    ``default`` feature set; users ask for them by name or in a feature-set file.

    Used by ``cde features`` and the features API.

    Example::

        @hookimpl
        def register_factors(register):
            register(MyFactor())
    """


@hookspec
def register_signals(register: Callable[[Any], None]) -> None:
    """Offer signal generators: features → scores or target weights per (time, symbol).

    Call ``register(generator)`` for each generator; it satisfies
    :class:`cde_core.contracts.signal.SignalGenerator`.

    Used by strategies and ``cde backtest``.
    """


@hookspec
def register_strategies(register: Callable[[Any], None]) -> None:
    """Offer strategies: a signal plus universe, rebalance schedule and sizing rules.

    Call ``register(strategy)`` for each strategy; it satisfies
    :class:`cde_core.contracts.strategy.Strategy`.

    Used by ``cde backtest run --strategy NAME`` and the backtest API.
    """


@hookspec
def register_engines(register: Callable[[Any], None]) -> None:
    """Offer backtest engines (``cross_sectional``, ``time_series`` …).

    Call ``register(engine)`` for each engine; it satisfies
    :class:`cde_core.contracts.engine.Engine`. A strategy names the engine that runs it, so an
    engine from one plugin can run strategies from another.

    Used by ``cde backtest run`` and the backtest API.
    """


@hookspec
def register_executors(register: Callable[[Any], None]) -> None:
    """Offer executors that run a batch of independent jobs (``local``, ``dask`` …).

    Call ``register(executor_type)`` for each executor; it satisfies
    :class:`cde_core.contracts.executor.ExecutorType`: a ``name``, a ``summary``, a ``Params`` model
    and ``create(params) -> Executor``. Heavy steps (aggregation per symbol-month, features per
    symbol, backtest sweeps) submit work only through an executor, so pointing the same commands at
    a cluster is a configuration change.
    """


@hookspec
def register_services(register: Callable[[Any], None]) -> None:
    """Offer a stage's service functions to notebooks (``from cde import Lake``).

    Call ``register(service)`` for each; it satisfies :class:`cde_core.contracts.service.StageService`:
    a ``name`` of the form ``<stage>.<verb>`` (``bars.aggregate``, ``features.compute``, ``backtest.run``,
    ``trades.import``, ``bars.import``), a ``summary``, its request model as ``Params`` and
    ``run(request, lake, progress) -> result``. :class:`cde.Lake` calls services only by these names,
    so it works with whichever stages are installed and names the distribution to install otherwise.

    Example::

        @hookimpl
        def register_services(register):
            register(AggregateService())   # name = "bars.aggregate", Params = AggregateRequest
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the ``cde`` command line.

    ``app`` is the root :class:`typer.Typer` application. Add commands with ``app.command()`` or
    groups with ``app.add_typer(sub_app, name=...)``. A name the shell or an earlier plugin already
    has is refused (removed again) and reported in ``cde plugins``. Raise
    :class:`cde_core.errors.CdeError` for user errors: the CLI prints it as one line (with a
    traceback only under ``--debug``).

    Example::

        @hookimpl
        def register_commands(app):
            @app.command()
            def hello(name: str) -> None:
                print(f"hello {name}")
    """


@hookspec
def register_routes(app: Any) -> None:
    """Add routes to the REST API.

    ``app`` is the :class:`fastapi.FastAPI` application; call ``app.include_router(router)``. A
    ``METHOD path`` another plugin already serves is refused with its router and reported.
    Long work should run as a task: ``app.state.tasks`` satisfies
    :class:`cde_core.tasks.TaskSubmitter`. Raise :class:`cde_core.errors.CdeError` for client
    errors: the API answers with a JSON problem body and the error's ``http_status``.
    """
