"""Command line: parse arguments first, import torch and Qt only for the command that runs.

`vaedesk --help` and `vaedesk --version` must stay instant, so nothing heavy is imported
at module level here. Each command lives in its own module under vaedesk/cli/commands/,
listed in vaedesk/cli/commands/__init__.py; only the one that runs is imported.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vaedesk import __version__
from vaedesk.cli.commands import COMMANDS, load
from vaedesk.cli.common import CommandError
from vaedesk.cli.parsing import Parser, add_data_option, add_weights_option

__all__ = ["CommandError", "build_parser", "main"]


def build_parser(command: str | None = None) -> tuple[Parser, Parser | None]:
    """The top-level parser, with every command listed but only `command`'s options added
    (the others are never imported); and that command's own parser."""
    parser = Parser(
        prog="vaedesk",
        description="Explore a variational autoencoder of handwritten digits. "
        "With no command, opens the window.",
        allow_abbrev=False,  # the options before the command are told from the command's exactly
    )
    add_data_option(parser, default=None)
    add_weights_option(parser, default=None)
    parser.add_argument("--version", action="version", version=f"vaedesk {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window, drive it with a scripted hover, click, drawing and short "
        "training, print a JSON report, exit 0 only if every check held",
    )
    parser.add_argument("--exit-after-first-paint", action="store_true", help=argparse.SUPPRESS)
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add vaedesk and its icon to your desktop's application menu (under ~/.local/share)",
    )
    desktop.add_argument("--remove-desktop-entry", action="store_true", help="undo --install-desktop-entry")
    parser.add_argument(
        "--trace",
        metavar="FILE",
        help="append what the window shows to FILE as JSON lines (for scripted tests)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    chosen = None
    for name, info in COMMANDS.items():
        command_parser = sub.add_parser(name, help=info.summary)
        if name == command:
            load(name).add_arguments(command_parser)
            chosen = command_parser
    return parser, chosen


def _find_command(parser: Parser, argv: list[str]) -> int | None:
    """Where the command's name stands in argv: the first name of a command that is not
    the value of an option before it."""
    takes_value = False
    for i, token in enumerate(argv):
        if takes_value:
            takes_value = False
        elif token in COMMANDS:
            return i
        elif token in parser.options:
            takes_value = parser.options[token].nargs != 0
    return None


def _options_before_the_command(parser: Parser, command_parser: Parser, argv: list[str], at: int) -> None:
    """`vaedesk --threads 1 train` would fail with "invalid choice: '1'": say instead that
    the option belongs after the command."""
    command = argv[at]
    for token in argv[:at]:
        name = token.split("=", 1)[0]
        if name.startswith("-") and name not in parser.options:
            if name in command_parser.options:
                parser.error(f"{name} goes after the command: vaedesk {command} {name} ...")
            parser.error(f"unrecognized option {name} (vaedesk {command} --help lists its options)")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments, with the options given before the command checked against it."""
    parser, command_parser = build_parser()
    at = _find_command(parser, argv)
    if at is not None:
        parser, command_parser = build_parser(argv[at])
        assert command_parser is not None
        _options_before_the_command(parser, command_parser, argv, at)
    args = parser.parse_args(argv)
    args.argv = argv
    if command_parser is not None:
        for option in ("--data", "--weights"):
            given = getattr(args, option[2:]) is not None
            if given and option not in command_parser.options:
                parser.error(f"{option} does not apply to `vaedesk {args.command}`")
    return args


def missing_window_libraries() -> list[str]:
    """The packages the window needs and this installation lacks (a headless install
    trains and evaluates without them), found without importing them."""
    import importlib.util

    missing = []
    for module, package in (("PySide6", "PySide6-Essentials"), ("pyqtgraph", "pyqtgraph")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # blocked: None in sys.modules
            found = False
        if not found:
            missing.append(package)
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.install_desktop_entry or args.remove_desktop_entry:
            from vaedesk.core import desktop

            return desktop.run(remove_entry=args.remove_desktop_entry)
        if args.command is None:
            missing = missing_window_libraries()
            if missing:
                print(
                    f"vaedesk: the window needs {' and '.join(missing)}, which are not installed"
                    " (pip install 'PySide6-Essentials<6.12' pyqtgraph); every command works"
                    " without them: vaedesk --help",
                    file=sys.stderr,
                )
                return 2
            from vaedesk.ui.app import run_app

            return run_app(args)
        return load(args.command).run(args)
    except CommandError as e:
        print(f"vaedesk: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vaedesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vaedesk encode *.png | head -1`: the reader has gone
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
