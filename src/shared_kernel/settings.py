"""One settings mechanism for every program: dataclass fields that name their environment variable.

Each variable is written once, with its type (the annotation), default and description (`variable`).
`load` reads the environment into such a dataclass through `msgspec.convert` (numbers, constraints,
literals); booleans go through the one `parse_bool`. `markdown_table` renders the README's tables from
the same fields, so the documentation cannot name a variable nothing reads.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from shared_kernel.webhooks import InvalidWebhookSecret, parse_webhook_secrets

# A fixed, well-known development secret: production refuses it on both sides of the webhooks.
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("development", "test", "production")

_SPEC = "environment variable"
_MISSING: Any = dataclasses.MISSING
_FIELD_AT = re.compile(r"at `\$\.(\w+)")


class ConfigurationError(Exception):
    """The environment describes a configuration the program must not run with."""


@dataclass(frozen=True, slots=True)
class Variable:
    """How one field is read: its names (the first one set wins), description and documentation."""

    names: tuple[str, ...]
    description: str
    parse: Callable[[str], Any] | None
    shown_default: str | None
    table: str


def variable(
    names: str | tuple[str, ...],
    description: str,
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    parse: Callable[[str], Any] | None = None,
    shown_default: str | None = None,
    table: str = "configuration",
) -> Any:
    """A dataclass field read from the environment; an unset or empty variable leaves the default.
    ``parse`` turns the text into the field's value where msgspec's conversion does not."""
    spec = Variable((names,) if isinstance(names, str) else names, description, parse, shown_default, table)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_SPEC: spec})


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean (true/false, 1/0, yes/no, on/off): {raw!r}")


def parse_list(raw: str) -> tuple[str, ...]:
    """Comma- or whitespace-separated items."""
    return tuple(item for item in re.split(r"[\s,]+", raw) if item)


def webhook_secrets(raw: str) -> tuple[str, ...]:
    """`whsec_...` secrets, comma- or whitespace-separated, each checked."""
    try:
        return tuple(parse_webhook_secrets(raw))
    except InvalidWebhookSecret as error:
        raise ValueError(str(error)) from None


def without_trailing_slash(raw: str) -> str:
    return raw.strip().rstrip("/")


def lowercase(raw: str) -> str:
    return raw.strip().lower()


def uppercase(raw: str) -> str:
    return raw.strip().upper()


S = TypeVar("S")


def load(cls: type[S], env: Mapping[str, str] | None = None) -> S:
    """``cls`` with every field whose variable is set read from ``env`` (default: the process's)."""
    env = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec = field.metadata.get(_SPEC)
        if spec is None:
            if dataclasses.is_dataclass(hints[field.name]):
                values[field.name] = load(hints[field.name], env)
            continue
        found = next(((name, env[name]) for name in spec.names if env.get(name, "").strip()), None)
        if found is None:
            continue
        names[field.name], raw = found
        try:
            values[field.name] = _parse(spec, hints[field.name], raw)
        except (ValueError, ConfigurationError) as error:
            raise ConfigurationError(f"{names[field.name]}: {error}") from error
    try:
        return msgspec.convert(values, cls, strict=False, dec_hook=_path)
    except msgspec.ValidationError as error:
        found_field = _FIELD_AT.search(str(error))
        name = names.get(found_field.group(1), found_field.group(1)) if found_field else cls.__name__
        raise ConfigurationError(f"{name}: {str(error).split(' - at ')[0]}") from error


def _parse(spec: Variable, hint: Any, raw: str) -> Any:
    if spec.parse is not None:
        return spec.parse(raw)
    if hint is bool:
        return parse_bool(raw)
    if hint in (int, float):
        return raw.strip()  # as int() and float() read it
    return raw


def _path(kind: type, value: Any) -> Any:
    """msgspec's ``dec_hook``: builds the one type msgspec does not (``Path``). For any other type it
    raises NotImplementedError, msgspec's documented signal for "unsupported type" (a validation error)."""
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"no conversion to {kind!r}")


def variables(cls: type) -> Iterator[tuple[Variable, str]]:
    """Every variable ``cls`` reads (nested settings included), with its default as documented."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        spec = field.metadata.get(_SPEC)
        if spec is None:
            if dataclasses.is_dataclass(hints[field.name]):
                yield from variables(hints[field.name])
            continue
        yield spec, _shown(spec, field)


def _shown(spec: Variable, field: dataclasses.Field[Any]) -> str:
    if spec.shown_default is not None:
        return spec.shown_default
    value = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{','.join(map(str, value))}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def markdown_table(table: str, *classes: type) -> str:
    """The README table of the variables in ``table`` that ``classes`` read, each once."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    seen: set[str] = set()
    for cls in classes:
        for spec, shown in variables(cls):
            if spec.table != table or spec.names[0] in seen:
                continue
            seen.add(spec.names[0])
            name = f"`{spec.names[0]}`" + "".join(f" (or `{other}`)" for other in spec.names[1:])
            rows.append(f"| {name} | {shown} | {spec.description} |")
    return "\n".join(rows) + "\n"


TRACING = "tracing"
Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """OpenTelemetry's standard variables, as far as the programs use them (README, "Tracing")."""

    exporter: Literal["none", "otlp", "console"] = variable(
        "OTEL_TRACES_EXPORTER",
        "`none`: tracing off, OpenTelemetry not even imported; `otlp`: spans to the collector at "
        "`OTEL_EXPORTER_OTLP_ENDPOINT`; `console`: spans as JSON on standard output",
        default="none",
        parse=lowercase,
        table=TRACING,
    )
    service_name: str | None = variable(
        "OTEL_SERVICE_NAME",
        "the `service.name` of every span; unset, each program's own: `voice-practice-api`, "
        "`voice-practice-worker`, `voice-practice-analysis`",
        default=None,
        table=TRACING,
    )
    otlp_endpoint: str = variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "the collector's OTLP/HTTP base URL; spans are sent to `<endpoint>/v1/traces`",
        default="http://localhost:4318",
        parse=without_trailing_slash,
        table=TRACING,
    )
    otlp_protocol: Literal["http/protobuf"] = variable(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "only `http/protobuf` (the gRPC exporter is not installed)",
        default="http/protobuf",
        parse=lowercase,
        table=TRACING,
    )
    otlp_headers: str | None = variable(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "`key=value` pairs, comma-separated, sent with every export (a hosted collector's API key: "
        "set it as a secret)",
        default=None,
        shown_default="unset",
        table=TRACING,
    )
    sampler: Sampler = variable(
        "OTEL_TRACES_SAMPLER",
        "which traces are kept: `parentbased_traceidratio` keeps `OTEL_TRACES_SAMPLER_ARG` of the new "
        "ones and whatever the caller kept",
        default="parentbased_always_on",
        parse=lowercase,
        table=TRACING,
    )
    sampler_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = variable(
        "OTEL_TRACES_SAMPLER_ARG", "the ratio of the `traceidratio` samplers", default=1.0, table=TRACING
    )
    export_delay_ms: Annotated[int, msgspec.Meta(ge=1)] = variable(
        "OTEL_BSP_SCHEDULE_DELAY",
        "the longest a finished span waits to be exported with others, in milliseconds",
        default=5000,
        table=TRACING,
    )

    @property
    def enabled(self) -> bool:
        return self.exporter != "none"


P = TypeVar("P", bound="ProgramSettings")


@dataclass(frozen=True, slots=True)
class ProgramSettings:
    """What every program reads: the environment it runs in, its logs, and the analysis protocol's secrets."""

    environment: str = variable(
        "APP_ENV", "`development`, `test` or `production`", default="development", parse=lowercase
    )
    log_level: str = variable("LOG_LEVEL", "log level of every program", default="INFO", parse=uppercase)
    log_format: Literal["auto", "json", "console"] = variable(
        "LOG_FORMAT",
        "`json` lines, `console` (readable, coloured) or `auto`: console when stderr is a terminal, JSON otherwise",
        default="auto",
        parse=lowercase,
    )
    analysis_server_auth_token: str | None = variable(
        "ANALYSIS_SERVER_AUTH_TOKEN",
        "bearer token the API sends to the analysis servers and the reference server requires "
        "(it refuses to start without one; `make run` makes one up)",
        default=None,
    )
    analysis_webhook_secrets: tuple[str, ...] = variable(
        "ANALYSIS_WEBHOOK_SECRETS",
        "comma-separated `whsec_...` secrets accepted on webhooks (the reference server signs with the "
        "first unless `ANALYSIS_WEBHOOK_SECRET` is set); required in production",
        default=(DEV_WEBHOOK_SECRET,),
        parse=webhook_secrets,
        shown_default="dev value",
    )
    tracing: TracingSettings = dataclasses.field(default_factory=TracingSettings)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls: type[P], env: Mapping[str, str] | None = None) -> P:
        """Read and check the environment; raise ConfigurationError naming a variable it refuses."""
        env = os.environ if env is None else env
        settings = load(cls, env)
        settings.validate(env)
        return settings

    def validate(self, env: Mapping[str, str]) -> None:
        """Refuse what no single variable's type can: combinations, and development secrets in production."""
        # Empty would read as unset, i.e. development; a deployment that meant production must not get it.
        if self.environment not in ENVIRONMENTS or env.get("APP_ENV", "x").strip() == "":
            raise ConfigurationError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")


def with_tables(document: str, tables: Mapping[str, str]) -> str:
    """``document`` with the text between ``<!-- settings:NAME -->`` and ``<!-- /settings:NAME -->``
    replaced by ``tables[NAME]``; every marker pair must be there."""
    for name, table in tables.items():
        start, end = f"<!-- settings:{name} -->\n", f"<!-- /settings:{name} -->"
        before, found, rest = document.partition(start)
        _, found_end, after = rest.partition(end)
        if not found or not found_end:
            raise ValueError(f"no {start.strip()} ... {end} section")
        document = before + start + table + end + after
    return document
