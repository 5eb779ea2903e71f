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
* ``format_help`` renders the help itself, with Rich, in Spanish.
* ``MigoTyper`` makes ``MigoCommand`` every command's class, so a new command
  speaks Spanish without anyone remembering to say so.

The exception classes live in ``typer._click``, which Typer calls private: the
dependency is pinned to one minor version (pyproject.toml), and
tests/test_spanish.py goes through every kind of usage error and every
command's help, so an upgrade that moves them fails there, not in front of a user.
"""

from __future__ import annotations

import difflib
import inspect
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from typing import Any

import typer
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
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
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = [
    "HELP_OPTION_TEXT",
    "MigoCommand",
    "MigoGroup",
    "MigoTyper",
    "SpanishBadParameter",
    "SpanishUsageError",
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


def _print_error(message: str, hint: str | None) -> None:
    console = Console(stderr=True, highlight=False)
    console.print(Text.assemble(("Error:", "bold red"), " ", message), soft_wrap=True)
    if hint is not None:
        console.print(Text(hint, style="dim"), soft_wrap=True)


# -- help --------------------------------------------------------------------------------


def _help_console() -> Console:
    """A console that renders into a string as stdout would show it (width, colours)."""
    probe = Console()
    return Console(
        file=io.StringIO(),
        width=probe.width,
        force_terminal=probe.is_terminal,
        color_system=probe.color_system,  # type: ignore[arg-type]  # a name Console accepts
        highlight=False,
    )


def _markup(text: str, style: str = "") -> Text:
    """Help texts are written in Rich markup (``rich_markup_mode="rich"``)."""
    return Text.from_markup(inspect.cleandoc(text), style=style)


def _description(command: _click.Command) -> Iterator[RenderableType]:
    text = inspect.cleandoc(command.help or "").partition("\f")[0]
    if not text:
        return
    first, *rest = text.split("\n\n")
    yield Padding(_markup(first.replace("\n", " ")), (0, 1, 1, 1))
    if rest:
        yield Padding(_markup("\n\n".join(rest), style="dim"), (0, 1, 1, 1))


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


def _param_help(param: TyperOption | TyperArgument) -> Text:
    text = _markup(param.help or "") if param.help else Text()
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
    for extra in extras:
        text.append(("\n" if text else "") + extra, style="dim")
    return text


def _param_rows(
    params: Sequence[TyperOption | TyperArgument], ctx: _click.Context
) -> RenderableType:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(style="yellow", no_wrap=True)
    table.add_column(ratio=1)
    for param in params:
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "").upper()
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
        else:
            name = ", ".join(sorted(param.opts, key=len))
        table.add_row(name, _type_label(param, ctx), _param_help(param))
    return table


def _panel(title: str, body: RenderableType) -> Panel:
    return Panel(body, title=title, title_align="left", border_style="dim", box=box.ROUNDED)


def _help_panels(command: _click.Command, ctx: _click.Context) -> Iterator[RenderableType]:
    """Arguments, then options, each under its ``rich_help_panel`` (Typer's convention)."""
    arguments: dict[str, list[TyperOption | TyperArgument]] = {_ARGUMENTS: []}
    options: dict[str, list[TyperOption | TyperArgument]] = {_OPTIONS: []}
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            arguments.setdefault(param.rich_help_panel or _ARGUMENTS, []).append(param)
        elif isinstance(param, TyperOption) and not param.hidden:
            options.setdefault(param.rich_help_panel or _OPTIONS, []).append(param)
    for title, params in [*arguments.items(), *options.items()]:
        if params:
            yield _panel(title, _param_rows(params, ctx))


def _commands_panel(group: TyperGroup, ctx: _click.Context) -> Iterator[RenderableType]:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(ratio=1)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        summary = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        table.add_row(name, _markup(summary.replace("\n", " ")))
    if table.row_count:
        yield _panel(_COMMANDS, table)


def render_help(command: _click.Command, ctx: _click.Context) -> str:
    """The whole ``--help`` page, in Spanish, as stdout will show it."""
    console = _help_console()
    parts: list[RenderableType] = [Padding(Text(command.get_usage(ctx), style="bold"), 1)]
    parts.extend(_description(command))
    parts.extend(_help_panels(command, ctx))
    if isinstance(command, TyperGroup):
        parts.extend(_commands_panel(command, ctx))
    console.print(Group(*parts))
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


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
    """A command whose usage line, help and extra-argument error are Spanish."""

    def format_usage(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        _format_usage(self, ctx, formatter)

    def get_help_option(self, ctx: _click.Context) -> TyperOption | None:
        return _in_spanish(super().get_help_option(ctx))

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        formatter.write(render_help(self, ctx))

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        return _usage_pieces(self, ctx)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        # Click words "Got unexpected extra argument(s)" inside parse_args; let the
        # extras through and refuse them here instead.
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
        formatter.write(render_help(self, ctx))

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar or SUBCOMMAND_METAVAR]

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
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
            _print_error(usage_error_message(exc), _hint(exc.ctx))
            code = EXIT_USAGE
        except ClickException as exc:  # not a usage error: nothing of migo's raises one
            _print_error(exc.format_message(), None)
            code = exc.exit_code
        except typer.Abort:
            _print_error("operación cancelada", None)
            code = 1
        else:
            # Without standalone mode Typer returns the exit code of a typer.Exit
            # (and a command's own return value, which migo's never use).
            code = result if isinstance(result, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


class MigoTyper(typer.Typer):
    """``typer.Typer`` whose commands are ``MigoCommand`` unless told otherwise."""

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return super().command(name, cls=cls or MigoCommand, **kwargs)
