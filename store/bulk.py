"""Many rows of one table in one INSERT, with the least work per row in this process.

SQLAlchemy's "insertmanyvalues" writes a batch as one ``INSERT ... VALUES (...), (...)`` whose
every value is a parameter of its own: each row's parameters renamed and processed in Python,
a statement text as long as the batch, which the driver then scans to fill in. On PostgreSQL
(psycopg2), :func:`insert_rows` sends one parameter per *column* instead, an array, and lets
the server take the rows apart (``INSERT ... SELECT * FROM unnest(CAST(%s AS type[]), ...)``):
a short statement, built once per set of columns, and per value only the column type's own
bind processing (the function SQLAlchemy would apply) and the driver's quoting, done in C.
It costs less than half the CPU of the same INSERT through insertmanyvalues
(``scripts/bench_write.py``).

The rows are what SQLAlchemy's INSERT would write, and refused as it would refuse them:

* the arrays of text columns are ``TEXT[]``: the INSERT's own conversion to the column then
  refuses a value too long for it (an explicit cast to ``VARCHAR(n)`` would cut it silently);
* what a bind processor raises comes out as SQLAlchemy's ``StatementError``, as from
  ``Connection.execute``;
* columns left out of the rows get their Python-side default (a scalar, or a callable that
  takes no context) or else the server's.

A table with another kind of default that the rows leave out, another driver, and SQLite
(whose ``executemany`` loop is in C already) take SQLAlchemy's path. Either way the statement
refuses the whole batch or writes all of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Enum, String, Table, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from sqlalchemy.schema import Column, ColumnDefault
from sqlalchemy.types import TypeEngine

__all__ = ["insert_rows"]


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]],
                returning: Sequence[str] = ()) -> list[Any]:
    """INSERT ``rows`` (dicts with the same keys, already cleaned) into ``table`` in the
    session's transaction; the ``returning`` columns of the new rows, in no set order."""
    if not rows:
        return []
    connection = session.connection()
    plan = _plan(table, tuple(rows[0]), tuple(returning), connection.dialect)
    if plan is None:
        statement = table.insert()
        if returning:
            statement = statement.returning(*(table.c[name] for name in returning))
        result = connection.execute(statement, list(rows))
        return list(result) if returning else []
    sql, processors, defaults = plan
    columns = [[row[name] for row in rows] for name in rows[0]]
    columns += [[make() for _row in rows] for make in defaults]
    try:
        parameters = tuple([process(value) for value in values] if process is not None
                           else values
                           for values, process in zip(columns, processors, strict=True))
    except Exception as exc:  # a value the column's type refuses: as SQLAlchemy reports it
        raise StatementError(f"({type(exc).__name__}) {exc}", sql, None, exc) from exc
    result = connection.exec_driver_sql(sql, parameters)
    written = list(result) if returning else []
    if (len(written) if returning else result.rowcount) != len(rows):  # (unnest would pad)
        raise RuntimeError(f"{table.name}: {len(rows)} righe da scrivere, "
                           f"{len(written) if returning else result.rowcount} scritte")
    return written


_Processor = Callable[[Any], Any] | None


def _same(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=64)
def _plan(table: Table, names: tuple[str, ...], returning: tuple[str, ...], dialect: Dialect
          ) -> tuple[str, list[_Processor], list[Callable[[], Any]]] | None:
    """The PostgreSQL statement for rows with these columns, the bind processor of each column
    (the rows' first, then those filled with their default), and the makers of those defaults;
    None where SQLAlchemy's own INSERT is to be used."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg2":
        return None  # lists as ARRAY[...], JSON as text: what this relies on, seen there
    filled: list[str] = []
    defaults: list[Callable[[], Any]] = []
    for column in table.columns:
        if column.name in names or column.default is None:
            continue  # given, or the server's default (or NULL)
        default = column.default
        if not isinstance(default, ColumnDefault) or default.is_clause_element:
            return None  # a SQL expression or a sequence: computed by SQLAlchemy's INSERT
        if default.is_callable:
            # SQLAlchemy wraps a callable without arguments into one taking the context (and
            # names the original __wrapped__); one that reads the context is left to it
            if getattr(default.arg, "__wrapped__", None) is None:
                return None
            defaults.append(functools.partial(default.arg, None))
        else:
            defaults.append(functools.partial(_same, default.arg))
        filled.append(column.name)
    every = [table.c[name] for name in (*names, *filled)]
    elements = [_element(column, dialect) for column in every]
    if None in elements:
        return None
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(f"CAST(%s AS {element}[])" for element in elements)
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
           f"({', '.join(quote(column.name) for column in every)}) "
           f"SELECT * FROM unnest({arrays})")
    if returning:
        sql += f" RETURNING {', '.join(quote(name) for name in returning)}"
    return sql, [column.type.dialect_impl(dialect).bind_processor(dialect)
                 for column in every], defaults


def _element(column: Column[Any], dialect: Dialect) -> str | None:
    """The type of the array that carries ``column``'s values: TEXT for text of any length
    (the INSERT checks the length), the column's own type otherwise; None for an enumeration
    (text does not convert to it by itself)."""
    kind: TypeEngine[Any] = column.type
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, Enum):
        return None
    if isinstance(kind, String):
        return "TEXT"
    return str(kind.compile(dialect=dialect))
