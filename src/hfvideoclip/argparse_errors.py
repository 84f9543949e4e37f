"""Command-line parsing errors as one line: argparse prints the whole usage first (145 lines for `train`), which
buries the one line that says what is wrong."""

from __future__ import annotations

import argparse


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make `parser` (and its sub-command parsers) print `prog: error: message (see prog --help)` and exit 2."""
    def error(message: str):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                one_line_errors(sub)
    return parser


__all__ = ["one_line_errors"]
