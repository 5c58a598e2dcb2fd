"""Many rows of one table in one INSERT, with the least work per row in this process.

SQLAlchemy's "insertmanyvalues" writes a batch as one ``INSERT ... VALUES (...), (...)`` whose
every value is a parameter of its own: each row's parameters renamed and processed in Python,
a statement text as long as the batch, which the driver then scans to fill in. On PostgreSQL,
:func:`insert_rows` sends one parameter per *column* instead, an array, and lets the server
take the rows apart (``INSERT ... SELECT * FROM unnest(CAST(%s AS type[]), ...)``): a short
statement, prepared once per set of columns, and per value only the column type's own bind
processing (the same function SQLAlchemy would apply) and the driver's quoting, done in C.
It costs less than half the CPU of the same INSERT through insertmanyvalues
(``scripts/bench_write.py``).

Columns left out of the rows get their Python-side default (scalar or callable, as the Core
INSERT applies them) or else the server's. A table with a SQL-expression default that the rows
leave out, and SQLite (whose ``executemany`` loop is in C already), take SQLAlchemy's path.
Either way the statement refuses the whole batch or writes all of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.schema import ColumnDefault

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
    parameters = tuple([process(value) for value in values] if process is not None else values
                       for values, process in zip(columns, processors, strict=True))
    result = connection.exec_driver_sql(sql, parameters)
    return list(result) if returning else []


_Processor = Callable[[Any], Any] | None


def _same(value: Any) -> Any:
    return value


@functools.cache
def _plan(table: Table, names: tuple[str, ...], returning: tuple[str, ...], dialect: Dialect
          ) -> tuple[str, list[_Processor], list[Callable[[], Any]]] | None:
    """The PostgreSQL statement for rows with these columns, the bind processor of each column
    (the rows' first, then those filled with their default), and the makers of those defaults;
    None where SQLAlchemy's own INSERT is to be used."""
    if dialect.name != "postgresql":
        return None
    filled: list[str] = []
    defaults: list[Callable[[], Any]] = []
    for column in table.columns:
        if column.name in names or column.default is None:
            continue  # given, or the server's default (or NULL)
        default = column.default
        if not isinstance(default, ColumnDefault) or default.is_clause_element:
            return None  # a SQL expression or a sequence: computed by SQLAlchemy's INSERT
        if default.is_callable:  # wrapped by SQLAlchemy into one taking the context
            defaults.append(functools.partial(default.arg, None))
        else:
            defaults.append(functools.partial(_same, default.arg))
        filled.append(column.name)
    quote = dialect.identifier_preparer.quote
    every = [table.c[name] for name in (*names, *filled)]
    arrays = ", ".join(f"CAST(%s AS {column.type.compile(dialect=dialect)}[])"
                       for column in every)
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
           f"({', '.join(quote(column.name) for column in every)}) "
           f"SELECT * FROM unnest({arrays})")
    if returning:
        sql += f" RETURNING {', '.join(quote(name) for name in returning)}"
    return sql, [column.type.bind_processor(dialect) for column in every], defaults
