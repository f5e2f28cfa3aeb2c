"""`entra-pipeline store upgrade | check`: the connector store's migration and its check."""

from __future__ import annotations

import argparse

from .connectors import home_argument
from .terminal import printable


def add_parser(commands: argparse._SubParsersAction) -> None:
    store = commands.add_parser("store", help="the connector store: state, ledgers, inventory (SQLite or PostgreSQL)")
    sub = store.add_subparsers(dest="store_command", required=True)
    upgrade = sub.add_parser(
        "upgrade", help="create or migrate the store's tables, and import an older home folder's state files once"
    )
    home_argument(upgrade)
    upgrade.set_defaults(func=_upgrade)
    check = sub.add_parser(
        "check",
        help="read every row and committed file as the pipeline does; name what "
        "is damaged and the remedy (exit 1 if anything is)",
    )
    home_argument(check)
    check.set_defaults(func=_check)


def _upgrade(args: argparse.Namespace) -> int:
    from ..config import home_folder
    from ..store import Store
    from ..store.schema import SCHEMA_VERSION

    home = home_folder(args.home)
    store = Store(home)
    said = store.imported + store.upgrade()
    print(f"Store {store.describe()}: schema version {SCHEMA_VERSION}.")
    for line in said:
        print(f"  {printable(line)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..config import home_folder
    from ..store import open_store
    from .store_check import check

    store = open_store(home_folder(args.home))
    problems = check(store)
    print(f"Store {store.describe()}, data {store.describe_data()}: {len(problems) or 'no'} problem(s).")
    for problem in problems:
        print(f"  {printable(problem.line())}")  # a problem may quote the damaged value
    return 1 if problems else 0
