"""Typer and Click in Spanish: usage errors, the usage line and ``--help``.

Typer (0.29 vendors Click as ``typer._click``) words these in English in three
places: each exception's ``format_message``/``show`` (and Typer prints them in a
Rich box, with "Usage:" and "Try … for help"), ``typer.rich_utils`` (panel
titles, ``<str>`` type labels, ``[default: …]``), and the help option's text.
Translating them in place would mean patching module constants and gettext
strings across both packages: process-wide state, shared with anything else that
uses Typer, and silently undone by the next release that renames one of them.

Instead migo brings its own command classes, the override points Typer offers
for this (``Typer(cls=…)``, ``@app.command(cls=…)``):

* ``MigoGroup.main`` runs the command line with ``standalone_mode=False``, so
  usage errors come back as exceptions; ``usage_error_message`` words them from
  their structured fields (the option, the parameter, pydantic's error type and
  input), never from the English text.
* ``format_help`` renders the help itself, in Spanish, as plain text through
  Click's formatter (not Rich: see "help" below).
* ``parse_args`` converts the values of migo's plain kinds of parameter itself,
  refusing a bad one in Spanish, instead of through pydantic (see "values").
* ``MigoTyper`` makes ``MigoCommand`` every command's class, so a new command
  speaks Spanish without anyone remembering to say so.

The exception classes live in ``typer._click``, and the conversion contract
(``RuntimeParam``) in ``typer._coercion``, which Typer calls private: the
dependency is pinned to one minor version (pyproject.toml), and
tests/test_spanish.py goes through every kind of usage error and every
command's help, so an upgrade that moves them fails there, not in front of a user.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, get_args

import typer
from typer import _click
from typer._click.exceptions import (
    BadOptionUsage,
    BadParameter,
    ClickException,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)
from typer._click.formatting import wrap_text
from typer._click.termui import style
from typer._coercion import RuntimeParam, TypeDescriptor
from typer._param_types import (
    choice_coercion_annotation,
    coerce_cli_choice,
    coerce_cli_path,
    routes_to_path,
)
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption, _TyperParameter
from typer.main import get_command_name
from typer.models import CommandInfo, ParameterInfo

__all__ = [
    "HELP_OPTION_TEXT",
    "MigoCommand",
    "MigoGroup",
    "MigoTyper",
    "SpanishBadParameter",
    "SpanishUsageError",
    "print_error",
    "usage_error_message",
]

HELP_OPTION_TEXT = "Muestra esta ayuda y termina."
OPTIONS_METAVAR = "[OPCIONES]"
SUBCOMMAND_METAVAR = "COMANDO [ARGUMENTOS]..."
EXIT_USAGE = 2

_ARGUMENTS = "Argumentos"
_OPTIONS = "Opciones"
_COMMANDS = "Comandos"
#: Typer's ``display_type`` labels, as a person reads them here.
_TYPE_LABELS = {
    "int": "ENTERO",
    "int range": "ENTERO",
    "float": "NÚMERO",
    "float range": "NÚMERO",
    "str": "TEXTO",
    "path": "RUTA",
    "file": "ARCHIVO",
    "directory": "CARPETA",
    "datetime": "FECHA",
    "bool": "",
}
#: Help's first column (what to type) is no wider than this; a longer name goes alone
#: on its line. _GAP spaces separate the columns; the text column is never narrower
#: than _TEXT_MIN.
_FIRST_COLUMN_MAX, _GAP, _TEXT_MIN = 30, 2, 30
#: How close a typed option must be to a real one before migo suggests it.
_SUGGESTION_CUTOFF = 0.6


class SpanishUsageError(UsageError):
    """A usage error whose message migo wrote (in Spanish): shown as it is."""


class SpanishBadParameter(BadParameter):
    """A value an option's callback refused, with why in migo's words (Spanish)."""


# -- usage errors ------------------------------------------------------------------------


def usage_error_message(exc: UsageError) -> str:
    """One Spanish line for a Click/Typer usage error, whatever raised it."""
    if isinstance(exc, SpanishUsageError):
        return exc.message
    ctx = exc.ctx
    if isinstance(exc, NoSuchOption):
        return _unknown_option(exc.option_name, ctx)
    if isinstance(exc, MissingParameter):
        return _missing(exc.param)
    if isinstance(exc, BadParameter):
        return _bad_value(exc)
    if isinstance(exc, BadOptionUsage):
        param = _option_named(ctx, exc.option_name)
        if param is not None and getattr(param, "is_flag", False):
            return f"la opción {exc.option_name} no lleva valor"
        return f"la opción {exc.option_name} necesita un valor"
    where = f" de {ctx.command_path}" if ctx is not None else ""
    return f"uso no válido{where}"


def _unknown_option(name: str, ctx: _click.Context | None) -> str:
    message = f"opción desconocida: {name}"
    if ctx is None:
        return message
    own = [opt for param in ctx.command.get_params(ctx) for opt in param.opts]
    suggestion = _closest(name, own)
    if suggestion is not None:
        return f"{message} (¿quiso decir {suggestion}?)"
    if isinstance(ctx.command, TyperGroup) and any(
        name in param.opts for command in ctx.command.commands.values() for param in command.params
    ):
        return f"{message} (va después del comando: {ctx.command_path} COMANDO {name})"
    return message


def _closest(typed: str, candidates: Sequence[str]) -> str | None:
    """The option ``typed`` most likely meant: compared without dashes, long with long.

    Click compares with the dashes, so ``--bogus`` "resembles" ``--verbose``
    through the ``--`` and an ``s``; without them the suggestion has to earn it.
    """
    if not typed.startswith("--"):
        return None
    long_options = {c.lstrip("-"): c for c in candidates if c.startswith("--")}
    found = difflib.get_close_matches(
        typed.lstrip("-"), long_options, n=1, cutoff=_SUGGESTION_CUTOFF
    )
    return long_options[found[0]] if found else None


def _option_named(ctx: _click.Context | None, name: str) -> _click.Parameter | None:
    if ctx is None:
        return None
    return next((p for p in ctx.command.get_params(ctx) if name in p.opts), None)


def _missing(param: Any) -> str:
    if isinstance(param, TyperArgument):
        return f"falta el argumento {_argument_name(param)}"
    if isinstance(param, TyperOption):
        return f"falta la opción {_option_name(param)}"
    return "falta un parámetro obligatorio"


def _argument_name(param: TyperArgument) -> str:
    return (param.metavar or param.name or "").removesuffix("...").upper()


def _option_name(param: TyperOption) -> str:
    return max(param.opts, key=len)


def _bad_value(exc: BadParameter) -> str:
    param = exc.param
    if isinstance(param, TyperArgument):
        where = f"el argumento {_argument_name(param)}"
    elif isinstance(param, TyperOption):
        where = _option_name(param)
    else:
        where = "un parámetro"
    return f"valor no válido para {where}: {_why_invalid(exc)}"


def _why_invalid(exc: BadParameter) -> str:
    """Pydantic (which Typer validates with) says what was wrong in its error type."""
    if isinstance(exc, SpanishBadParameter):
        return exc.message
    errors = getattr(exc.__cause__, "errors", None)
    if not callable(errors) or not errors():
        return "no es un valor aceptado"
    error = errors()[0]
    kind = str(error.get("type", ""))
    value = error.get("input")
    shown = repr(value) if isinstance(value, str) else str(value)
    limits = error.get("ctx") or {}
    choices = _choices(exc.param)
    if choices:  # Typer checks choices in a validator of its own: a plain value_error
        return f"{shown} no es una de las opciones ({choices})"
    if kind.startswith("int_"):
        return f"{shown} no es un número entero"
    if kind.startswith(("float_", "finite_", "decimal_")):
        return f"{shown} no es un número"
    if kind.startswith(("date", "datetime", "time")):
        return f"{shown} no es una fecha válida (AAAA-MM-DD)"
    if kind.startswith("bool_"):
        return f"{shown} no es sí ni no (use true o false)"
    comparisons = {
        "greater_than_equal": ("ge", "mayor o igual que"),
        "greater_than": ("gt", "mayor que"),
        "less_than_equal": ("le", "menor o igual que"),
        "less_than": ("lt", "menor que"),
    }
    if kind in comparisons:  # a number by now: shown as one, without quotes
        key, words = comparisons[kind]
        return f"{value} no es válido: debe ser {words} {limits.get(key)}"
    return f"{shown} no es un valor aceptado"


def _choices(param: Any) -> str:
    """``individual o coleccion``; empty when ``param`` takes any value."""
    descriptor = getattr(param, "type_descriptor", None)
    values = [
        str(choice.value) if isinstance(choice, Enum) else str(choice)
        for choice in (getattr(descriptor, "choices", None) or ())
    ]
    if len(values) < 2:
        return "".join(values)
    return ", ".join(values[:-1]) + f" o {values[-1]}"


def _with_context(exc: UsageError, ctx: _click.Context) -> None:
    """Click's parser raises some usage errors without their context: give it back."""
    if exc.ctx is None:
        exc.ctx = ctx
        exc.cmd = ctx.command


def _hint(ctx: _click.Context | None) -> str | None:
    if ctx is None or ctx.command.get_help_option(ctx) is None:
        return None
    return f"Ayuda: {ctx.command_path} {ctx.help_option_names[0]}"


def print_error(message: str, hint: str | None = None) -> None:
    """``Error: …`` on stderr (red and bold on a terminal), and the way to the help."""
    _click.echo(f"{style('Error:', fg='red', bold=True)} {message}", err=True, color=_color())
    if hint is not None:
        _click.echo(style(hint, dim=True), err=True, color=_color())


def _color() -> bool | None:
    """Colour as Rich decides it elsewhere in migo: NO_COLOR and FORCE_COLOR, else a terminal."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None  # Click's rule: colour only on a terminal


# -- values ------------------------------------------------------------------------------
#
# Typer converts every value it parses with a pydantic ``TypeAdapter``: importing
# pydantic and building the adapters costs more than everything else a cached
# ``migo consultar`` does before it answers (benchmarks, figure 8). migo's
# parameters are of a few plain kinds (text, whole and decimal numbers with bounds,
# choices, paths, lists of these), converted here as Typer converts them, with the
# reason for a refusal in Spanish. Any other kind keeps Typer's conversion.

_Convert = Callable[[Any, _TyperParameter, _click.Context], Any]
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_WHOLE_FLOAT = re.compile(r"\s*[+-]?\d+\.0*\s*")


class _Refused(ValueError):
    """Why a value was refused, in Spanish (the text after ``valor no válido para X:``)."""


@dataclass(frozen=True)
class _PlainValue(RuntimeParam):
    """Typer's conversion contract (``coerce``: None, lists), kept; the conversion is ours."""

    convert: _Convert
    many: bool

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        try:
            if self.many:
                items = value if isinstance(value, list | tuple) else [value]
                return [self.convert(item, param, ctx) for item in items]
            return self.convert(value, param, ctx)
        except _Refused as exc:
            raise SpanishBadParameter(str(exc), ctx=ctx, param=param) from None


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _text(value: Any, param: _TyperParameter, ctx: _click.Context) -> str:
    return value.decode(sys.getfilesystemencoding()) if isinstance(value, bytes) else str(value)


def _boolean(value: Any, param: _TyperParameter, ctx: _click.Context) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or not text:
        return False
    raise _Refused(f"{_shown(value)} no es sí ni no (use true o false)")


def _number(kind: type[int | float], low: float | None, high: float | None) -> _Convert:
    """int or float from the text typed (ASCII digits, as pydantic reads them), within bounds."""
    what = "un número entero" if kind is int else "un número"

    def convert(value: Any, param: _TyperParameter, ctx: _click.Context) -> int | float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise _Refused(f"{value} no es {what}")
            number = kind(value)
        elif not isinstance(value, str) or not value.isascii():
            raise _Refused(f"{_shown(value)} no es {what}")
        else:
            try:
                number = kind(value)
            except ValueError:
                if kind is not int or not _WHOLE_FLOAT.fullmatch(value):
                    raise _Refused(f"{_shown(value)} no es {what}") from None
                number = int(float(value))
        shown = value.strip() if isinstance(value, str) else number
        if low is not None and number < low:
            raise _Refused(f"{shown} no es válido: debe ser mayor o igual que {low}")
        if high is not None and number > high:
            raise _Refused(f"{shown} no es válido: debe ser menor o igual que {high}")
        return number

    return convert


def _choice(choices: tuple[Any, ...], case_sensitive: bool) -> _Convert:
    def convert(value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            raise _Refused(
                f"{_shown(value)} no es una de las opciones ({_choices(param)})"
            ) from None

    return convert


def _path(info: ParameterInfo, path_type: type[Path]) -> _Convert:
    """Typer's own path checks (``exists=``, ``dir_okay=``…), handed a Path it need not parse."""

    def convert(value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        path = value if isinstance(value, path_type) else path_type(value)
        return coerce_cli_path(path, info, path_type=path_type, param=param, ctx=ctx)

    return convert


def _converter(annotation: Any, info: ParameterInfo) -> _Convert | None:
    choice = choice_coercion_annotation(annotation, info)
    if choice is not None:
        return _choice(*choice)
    if annotation is bool:
        return _boolean
    if annotation is str:
        return _text
    if annotation in (int, float):
        return None if info.clamp else _number(annotation, info.min, info.max)
    path_type = info.path_type or annotation
    if (
        routes_to_path(annotation, info)
        and isinstance(path_type, type)
        and issubclass(path_type, Path)
    ):
        return _path(info, path_type)
    return None


def _plain_value(descriptor: TypeDescriptor) -> _PlainValue | None:
    info = descriptor.parameter_info
    if descriptor.is_file or descriptor.is_tuple or info.parser is not None:
        return None
    (annotation,) = (
        get_args(descriptor.annotation) if descriptor.is_list else (descriptor.annotation,)
    )
    convert = _converter(annotation, info)
    if convert is None:
        return None
    return _PlainValue(
        parameter_info=info,
        annotation=descriptor.annotation,
        convert=convert,
        many=descriptor.is_list,
    )


def _convert_plainly(command: _click.Command, ctx: _click.Context) -> None:
    """Before Click processes the values: our conversion where it applies (see above)."""
    for param in command.get_params(ctx):
        if isinstance(param, _TyperParameter) and param._runtime_param is None:
            param._runtime_param = _plain_value(param.type_descriptor)


# -- help --------------------------------------------------------------------------------
#
# Plain text through Click's own formatter: no Rich, whose import alone costs more
# than the rest of ``migo --help`` (benchmarks, figure 7). Laid out as Click and
# most command-line tools do: usage, description, then one section per group of
# parameters, two columns wrapped to the terminal (at most 80 columns).


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def _format_description(command: _click.Command, formatter: _click.HelpFormatter) -> None:
    """The docstring: prose rewrapped; indented lines (examples) kept one per line."""
    text = inspect.cleandoc(command.help or "").partition("\f")[0]
    if not text:
        return
    formatter.write_paragraph()
    with formatter.indentation():
        written = False
        examples = False
        for paragraph in _paragraphs(text):
            example = paragraph[0].isspace()
            if written and not (example and examples):
                formatter.write_paragraph()
            if example:
                _write_examples(paragraph, formatter)
            else:
                formatter.write_text(paragraph)
            written, examples = True, example


def _write_examples(paragraph: str, formatter: _click.HelpFormatter) -> None:
    """Each line as written; one too long for the terminal continues indented below."""
    for line in paragraph.splitlines():
        indent = " " * (formatter.current_indent + len(line) - len(line.lstrip()))
        formatter.write(
            wrap_text(
                line.strip(),
                formatter.width,
                initial_indent=indent,
                subsequent_indent=indent + "    ",
            )
            + "\n"
        )


def _type_label(param: TyperOption | TyperArgument, ctx: _click.Context) -> str:
    if isinstance(param, TyperOption) and param.is_flag:
        return ""
    if param.metavar is not None:
        return "" if isinstance(param, TyperArgument) else param.metavar
    shown = param.display_type(ctx).strip("<>")
    many = shown.startswith("list[")
    shown = shown.removeprefix("list[").removesuffix("]")
    label = _TYPE_LABELS.get(shown, shown)
    return f"{label}..." if many and label else label


def _default_label(param: TyperOption | TyperArgument) -> str | None:
    if isinstance(param.show_default, str):
        return param.show_default
    value = param.default
    if not param.show_default or value is None or isinstance(value, bool) or callable(value):
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if str(value) != "" else None


def _param_extras(param: TyperOption | TyperArgument) -> list[str]:
    extras: list[str] = []
    envvar = param.envvar if isinstance(param, TyperOption) and param.show_envvar else None
    if envvar:
        names = envvar if isinstance(envvar, str) else ", ".join(envvar)
        extras.append(f"[variable de entorno: {names}]")
    default = _default_label(param)
    if default is not None:
        extras.append(f"[por omisión: {default}]")
    if param.required:
        extras.append("[obligatorio]")
    return extras


#: One line of a section: what to type, what it does, and notes kept whole (``[…]``).
_Row = tuple[str, str, list[str]]


def _param_row(param: TyperOption | TyperArgument, ctx: _click.Context) -> _Row:
    if isinstance(param, TyperArgument):
        name = param.metavar or (param.name or "").upper()
        if param.nargs != 1 and not name.endswith("..."):
            name += "..."
    else:
        name = ", ".join(sorted(param.opts, key=len))
    label = _type_label(param, ctx)
    text = " ".join(inspect.cleandoc(param.help or "").split())
    return (f"{name} {label}" if label else name), text, _param_extras(param)


def _write_sections(formatter: _click.HelpFormatter, sections: dict[str, list[_Row]]) -> None:
    """Click's two columns, aligned across sections; a note never split across lines."""
    names = [len(name) for rows in sections.values() for name, _, _ in rows]
    first = min(max(names, default=0), _FIRST_COLUMN_MAX)
    for title, rows in sections.items():
        if not rows:
            continue
        with formatter.section(title):
            indent = " " * formatter.current_indent
            room = max(formatter.width - len(indent) - first - _GAP, _TEXT_MIN)
            for name, text, extras in rows:
                lines = wrap_text(text, room).splitlines() if text else []
                for extra in extras:
                    if lines and len(lines[-1]) + _GAP + len(extra) <= room:
                        lines[-1] += " " * _GAP + extra
                    else:
                        lines.append(extra)
                if len(name) > first or not lines:
                    formatter.write(f"{indent}{name}\n")
                else:
                    formatter.write(f"{indent}{name:<{first}}{' ' * _GAP}{lines.pop(0)}\n")
                for line in lines:
                    formatter.write(f"{indent}{' ' * (first + _GAP)}{line}\n")


def _param_sections(command: _click.Command, ctx: _click.Context) -> dict[str, list[_Row]]:
    """Arguments, then options, each under its ``rich_help_panel`` (Typer's convention)."""
    arguments: dict[str, list[_Row]] = {_ARGUMENTS: []}
    options: dict[str, list[_Row]] = {_OPTIONS: []}
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            panel = arguments.setdefault(param.rich_help_panel or _ARGUMENTS, [])
        elif isinstance(param, TyperOption) and not param.hidden:
            panel = options.setdefault(param.rich_help_panel or _OPTIONS, [])
        else:
            continue
        panel.append(_param_row(param, ctx))
    return arguments | options


def _command_sections(group: TyperGroup, ctx: _click.Context) -> dict[str, list[_Row]]:
    """The subcommands with the first paragraph of their help, under their panels."""
    panels: dict[str, list[_Row]] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        summary = _paragraphs(inspect.cleandoc(command.short_help or command.help or ""))
        title = getattr(command, "rich_help_panel", None) or _COMMANDS
        panels.setdefault(title, []).append((name, " ".join(" ".join(summary[:1]).split()), []))
    return panels


def _format_help(
    command: _click.Command, ctx: _click.Context, formatter: _click.HelpFormatter
) -> None:
    """The whole ``--help`` page, in Spanish."""
    command.format_usage(ctx, formatter)
    _format_description(command, formatter)
    sections = _param_sections(command, ctx)
    if isinstance(command, TyperGroup):
        sections |= _command_sections(command, ctx)
    _write_sections(formatter, sections)


def _usage_pieces(command: _click.Command, ctx: _click.Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "").upper()
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
    return pieces


def _format_usage(
    command: _click.Command, ctx: _click.Context, formatter: _click.HelpFormatter
) -> None:
    pieces = command.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="Uso: ")


def _in_spanish(option: TyperOption | None) -> TyperOption | None:
    if option is not None:
        option.help = HELP_OPTION_TEXT
    return option


class MigoCommand(TyperCommand):
    """A command whose usage line, help and extra-argument error are Spanish.

    Made by ``MigoTyper``, its parameters are built from its function the first time
    something needs them (parsing, its own help): ``migo --help`` lists every command
    and ``migo consultar`` runs one, without building the others' (figures 7 and 8).
    """

    #: The function whose parameters become the command's (set by ``MigoTyper.command``);
    #: None: Typer was given the function itself and built them already.
    _function: ClassVar[Callable[..., Any] | None] = None
    _pretty_exceptions_short: ClassVar[bool] = True
    _built = False
    _params: list[_click.Parameter]
    _callback: Callable[..., Any] | None

    @property
    def params(self) -> list[_click.Parameter]:
        self._build()
        return self._params

    @params.setter
    def params(self, value: list[_click.Parameter]) -> None:
        self._params = value

    @property
    def callback(self) -> Callable[..., Any] | None:
        self._build()
        return self._callback

    @callback.setter
    def callback(self, value: Callable[..., Any] | None) -> None:
        self._callback = value

    def _build(self) -> None:
        """Typer's own parameters and callback for ``_function``, as it would have made them."""
        function = type(self)._function
        if function is None or self._built:
            return
        info = CommandInfo(name=self.name, callback=_with_annotations_evaluated(function))
        built = typer.main.get_command_from_info(
            info,
            pretty_exceptions_short=self._pretty_exceptions_short,
            rich_markup_mode=None,
        )
        self._params, self._callback = built.params, built.callback
        self._built = True  # a mistake in the function's parameters is raised on every use

    def format_usage(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_usage(self, ctx, formatter)

    def get_help_option(self, ctx: _click.Context) -> TyperOption | None:
        return _in_spanish(super().get_help_option(ctx))

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_help(self, ctx, formatter)

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        return _usage_pieces(self, ctx)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        # Click words "Got unexpected extra argument(s)" inside parse_args; let the
        # extras through and refuse them here instead.
        _convert_plainly(self, ctx)
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        except UsageError as exc:
            _with_context(exc, ctx)
            raise
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            extra = " ".join(rest)
            word = "argumento" if len(rest) == 1 else "argumentos"
            raise SpanishUsageError(f"{word} de más: {extra}", ctx)
        return rest


class MigoGroup(TyperGroup):
    """The ``migo`` group: Spanish help, and usage errors as one or two Spanish lines.

    ``main`` is the one place where Typer would print a usage error (in English,
    in a box); running it with ``standalone_mode=False`` hands the exception to
    us instead, and everything else (exit codes, Ctrl-C, help) behaves as Typer's.
    """

    def format_usage(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_usage(self, ctx, formatter)

    def get_help_option(self, ctx: _click.Context) -> TyperOption | None:
        return _in_spanish(super().get_help_option(ctx))

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_help(self, ctx, formatter)

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar or SUBCOMMAND_METAVAR]

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        _convert_plainly(self, ctx)
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _with_context(exc, ctx)
            raise

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        name = args[0]
        if (
            self.get_command(ctx, name) is None
            and not name.startswith("-")
            and not ctx.resilient_parsing
        ):
            message = f"comando desconocido: {name}"
            found = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            if found:
                message += f" (¿quiso decir {found[0]}?)"
            raise SpanishUsageError(message, ctx)
        return super().resolve_command(ctx, args)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except NoArgsIsHelpError as exc:
            _click.echo(exc.format_message(), color=exc.ctx.color)
            code = EXIT_USAGE
        except UsageError as exc:
            print_error(usage_error_message(exc), _hint(exc.ctx))
            code = EXIT_USAGE
        except ClickException as exc:  # not a usage error: nothing of migo's raises one
            print_error(exc.format_message(), None)
            code = exc.exit_code
        except typer.Abort:
            print_error("operación cancelada", None)
            code = 1
        else:
            # Without standalone mode Typer returns the exit code of a typer.Exit
            # (and a command's own return value, which migo's never use).
            code = result if isinstance(result, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


class MigoTyper(typer.Typer):
    """``typer.Typer`` whose commands are ``MigoCommand`` unless told otherwise.

    Typer builds every command of an app, parameter by parameter, each time the app
    runs: most of what ``migo --help`` cost once the imports were gone. A
    ``MigoCommand`` is registered with a stand-in function that has no parameters, and
    builds the real ones from its own function when first needed (``MigoCommand``).
    Annotations are evaluated then, once: under ``from __future__ import annotations``
    Typer evaluated every string again each of the three times it read them.
    """

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        base = cls or MigoCommand

        def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
            if not issubclass(base, MigoCommand):
                register = typer.Typer.command(self, name, cls=base, **kwargs)
                return register(_with_annotations_evaluated(function))
            deferred = type(
                base.__name__,
                (base,),
                {
                    "__module__": base.__module__,
                    "__doc__": base.__doc__,
                    "_function": function,
                    "_pretty_exceptions_short": self.pretty_exceptions_short,
                },
            )
            options = {"help": inspect.getdoc(function), **kwargs}
            command_name = name or get_command_name(function.__name__)
            typer.Typer.command(self, command_name, cls=deferred, **options)(_stand_in)
            return function

        return decorator

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().callback(*args, **kwargs)
        return lambda function: register(_with_annotations_evaluated(function))


def _stand_in() -> None:
    """What Typer sees of a ``MigoCommand``'s function until the command is built."""


def _with_annotations_evaluated(function: Callable[..., Any]) -> Callable[..., Any]:
    function.__annotations__ = inspect.get_annotations(function, eval_str=True)
    function.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
    return function
