"""Usage errors and ``--help`` in Spanish: one or two lines, exit 2, no Click boilerplate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from migo_cli.cli import app
from migo_cli.spanish import MigoCommand, MigoGroup, MigoTyper

runner = CliRunner()

#: What Click and Typer print on their own, in English.
ENGLISH = re.compile(
    r"Usage:|Try '|Options|Arguments|Commands|Show this message|No such|Missing|"
    r"Invalid value|Got unexpected|Possible options|requires an? |does not take|is not one of|"
    r"Input should|Value error|\[default|\[required\]|env var|<(str|int|float|bool|path)>"
)
PYTHON_CLASS = re.compile(r"[A-Z]\w+Error")
BOX = re.compile(r"[╭╰│─]")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


USAGE_ERRORS = [
    (("masivo", "lista.csv", "--bogus"), "opción desconocida: --bogus"),
    (
        ("masivo", "lista.csv", "--refrescr"),
        "opción desconocida: --refrescr (¿quiso decir --refrescar?)",
    ),
    (("masivo", "lista.csv", "-z"), "opción desconocida: -z"),
    (("masivo",), "falta el argumento ENTRADA"),
    (("consultar",), "falta el argumento RUC"),
    (("representantes",), "falta el argumento RUC"),
    (
        ("masivo", "lista.csv", "--modo", "lote"),
        "valor no válido para --modo: 'lote' no es una de las opciones (individual o coleccion)",
    ),
    (
        ("masivo", "lista.csv", "--rpm", "mucho"),
        "valor no válido para --rpm: 'mucho' no es un número",
    ),
    (
        ("masivo", "lista.csv", "--concurrencia", "2.5"),
        "valor no válido para --concurrencia: '2.5' no es un número entero",
    ),
    (
        ("simulador", "--puerto", "ocho"),
        "valor no válido para --puerto: 'ocho' no es un número entero",
    ),
    (
        ("consultar", "20100038146", "--timeout", "0"),
        "valor no válido para --timeout: 0 no es válido: debe ser mayor que 0",
    ),
    (
        ("masivo", "lista.csv", "--concurrencia", "0"),
        "valor no válido para --concurrencia: 0 no es válido: debe ser mayor o igual que 1",
    ),
    (("masivo", "lista.csv", "--rpm"), "la opción --rpm necesita un valor"),
    (("masivo", "lista.csv", "--enriquecer=sí"), "la opción --enriquecer no lleva valor"),
    (("masivo", "a.csv", "b.csv"), "argumento de más: b.csv"),
    (("consultr", "20100038146"), "comando desconocido: consultr (¿quiso decir consultar?)"),
    (("cache", "borrar"), "comando desconocido: borrar"),
    (
        ("--simulado", "consultar", "20100038146"),
        "opción desconocida: --simulado (va después del comando",
    ),
]


@pytest.mark.parametrize(
    ("args", "expected"), [pytest.param(*case, id=" ".join(case[0])) for case in USAGE_ERRORS]
)
def test_usage_errors_are_one_spanish_line_and_exit_2(args: tuple[str, ...], expected: str) -> None:
    code, out, err = run(*args)

    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"Error: {expected}")
    assert len(lines) <= 2
    if len(lines) == 2:  # the way to the help of the command that was mistyped
        assert re.fullmatch(r"Ayuda: migo( \w+)? -h", lines[1])
    assert not ENGLISH.search(err)
    assert not PYTHON_CLASS.search(err)
    assert not BOX.search(err)


def test_an_unrelated_option_gets_no_suggestion() -> None:
    """Click would offer --verbose for --bogus (they share "--" and an "s")."""
    _, _, err = run("masivo", "lista.csv", "--bogus")
    assert "quiso decir" not in err


def test_bare_migo_shows_the_help_and_exits_2() -> None:
    code, out, _ = run()
    assert code == 2
    assert "Uso: migo [OPCIONES] COMANDO [ARGUMENTOS]..." in out
    assert "Comandos" in out


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and group of migo, found in the app itself (new ones included)."""

    def walk(group: TyperGroup, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, command in group.commands.items():
            if isinstance(command, TyperGroup):
                yield from walk(command, (*path, name))
            else:
                yield (*path, name)

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    yield from walk(root, ())


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "migo")
def test_every_help_reads_as_spanish(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(*path, "--help")

    assert code == 0
    assert err == ""
    assert out.lstrip().startswith(f"Uso: {' '.join(('migo', *path))} [OPCIONES]")
    assert "Opciones" in out
    assert "-h, --help" in out
    assert "Muestra esta ayuda y termina." in out
    assert not ENGLISH.search(out), ENGLISH.search(out)
    assert all(len(line) <= 80 for line in out.splitlines())
    assert not BOX.search(out)  # plain text: no Rich panels


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "migo")
def test_help_notes_stay_whole_on_a_narrow_terminal(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[por omisión: 20]`` is never cut in two, however narrow the terminal."""
    monkeypatch.setenv("COLUMNS", "50")
    _, out, _ = run(*path, "--help")
    for line in out.splitlines():
        assert line.count("[") == line.count("]"), line


def test_help_lists_the_examples_one_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    _, out, _ = run("tipo-cambio", "--help")
    assert (
        "  Ejemplos:\n\n"
        "    migo tipo-cambio\n"
        "    migo tipo-cambio --fecha 2024-05-31\n"
        "    migo tipo-cambio --desde 2024-05-01 --hasta 2024-05-31 --json\n"
    ) in out


def test_help_columns_line_up_across_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    _, out, _ = run("consultar", "--help")
    starts = {
        line.index(text)
        for line in out.splitlines()
        for text in ("Uno o más RUC.", "Salida JSON", "Token de APIMIGO", "Más detalle")
        if text in line
    }
    assert len(starts) == 1, out


def test_help_names_types_and_defaults_in_spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    _, out, _ = run("masivo", "--help")

    assert "Uso: migo masivo [OPCIONES] ENTRADA" in out
    assert "Argumentos" in out
    assert re.search(r"--concurrencia\s+ENTERO\s+Consultas simultáneas", out)
    assert re.search(r"--rpm\s+NÚMERO", out)
    assert re.search(r"--modo\s+individual\|coleccion", out)
    assert "[por omisión: 20]" in out  # --concurrencia
    assert "[por omisión: individual]" in out  # --modo
    assert re.search(r"--enriquecer\s+Devolver", out)  # a flag takes no value: no type shown
    assert "Conexión con APIMIGO" in out  # the common options keep their own panel


def test_commands_are_built_when_used_not_when_listed() -> None:
    """``migo --help`` lists every command without building any command's parameters."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    with root.make_context("migo", [], resilient_parsing=True) as ctx:
        assert "consultar" in root.get_help(ctx)
    commands = root.commands
    assert all(isinstance(c, MigoCommand | TyperGroup) for c in commands.values())
    assert not any(c._built for c in commands.values() if isinstance(c, MigoCommand))

    assert [p.name for p in commands["consultar"].params][:2] == ["rucs", "as_json"]
    assert getattr(commands["consultar"], "_built", None) is True
    assert getattr(commands["masivo"], "_built", None) is False


class Kind(StrEnum):
    UNO = "uno"
    DOS = "dos"


def test_values_convert_as_typer_converts_them() -> None:
    """migo converts its plain kinds itself (no pydantic); the values are Typer's.

    A kind it leaves to Typer (a datetime here) still converts the usual way.
    """
    probe = MigoTyper(cls=MigoGroup)
    seen: dict[str, Any] = {}

    @probe.command()
    def todo(
        nombres: Annotated[list[str], typer.Argument()],
        *,
        entero: Annotated[int, typer.Option(min=1)] = 5,
        otro: int = 0,
        numero: float = 1.5,
        ruta: Path | None = None,
        clase: Kind = Kind.UNO,
        texto: str | None = None,
        dia: datetime | None = None,
    ) -> None:
        seen.update(nombres=nombres, entero=entero, otro=otro, numero=numero, ruta=ruta)
        seen.update(clase=clase, texto=texto, dia=dia)

    @probe.command()
    def nada() -> None:
        """A second command, so that Typer makes a group."""

    args = ["todo", "a", "b", "--entero", " 7 ", "--otro", "8.0", "--numero", "2"]
    args += ["--ruta", "x/y", "--clase", "dos", "--texto", "t", "--dia", "2024-05-31"]
    result = runner.invoke(probe, args)

    assert result.exit_code == 0, result.output
    assert seen == {
        "nombres": ["a", "b"],
        "entero": 7,
        "otro": 8,
        "numero": 2.0,
        "ruta": Path("x/y"),
        "clase": Kind.DOS,
        "texto": "t",
        "dia": datetime(2024, 5, 31),
    }
    assert isinstance(seen["numero"], float)
    assert isinstance(seen["otro"], int)


def test_version_still_exits_0() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.startswith("migo ")
