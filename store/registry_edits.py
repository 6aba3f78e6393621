"""Registry edits without a workbook: one person's, agency's or board's row changed (or added),
checked by the import's own rules and recorded with who made it.

The stored registry is laid out as the import's Agencies, People and Boards sheets, the edit is
applied to its one row, and ``plans.validate.check_registry`` judges the whole: a role naming a
board that does not exist, a policy out of order, the last Assurance Board member's role taken
away, are refused here exactly as in a workbook, with each reason against the field it concerns.
Only problems the edit brings are its own: one already in the stored registry is not blamed on it.
Nothing is written when refused. The caller delivers an accepted edit to the running workflows
(``gateway.people.registry_changed``); a board's new policy applies from each next deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, SQLModel, col, select

from plans.sheets import SHEETS, Cell, Sheet, cell_text
from plans.validate import check_registry
from store.people import RegistryEditRefused
from store.read_model import upsert_registry
from store.tables import Agency, Board, Person, RegistryChange

Kind = Literal["person", "agency", "board"]
SHEET_OF: dict[Kind, str] = {"person": "People", "agency": "Agencies", "board": "Boards"}
KEY_OF: dict[Kind, str] = {"person": "email", "agency": "name", "board": "name"}


def _columns(kind: Kind) -> tuple[str, ...]:
    required, optional = SHEETS[SHEET_OF[kind]]
    return (*required, *optional)


def _cells(row: SQLModel, kind: Kind) -> dict[str, Cell]:
    values = row.model_dump()
    cells: dict[str, Cell] = {}
    for column in _columns(kind):
        value = values.get(column)
        if column == "working_days":
            cells[column] = "yes" if value else "no"
        else:
            cells[column] = "" if value is None else str(value)
    return cells


def registry_sheets(session: Session) -> dict[str, Sheet]:
    """The stored registry as the import's three sheets (someone who has left is not in it)."""
    rows: dict[Kind, list[SQLModel]] = {
        "agency": [*session.exec(select(Agency).order_by(col(Agency.name)))],
        "person": [p for p in session.exec(select(Person).order_by(col(Person.email))) if p.left_on is None],
        "board": [*session.exec(select(Board).order_by(col(Board.name)))],
    }
    sheets = {}
    for kind, group in rows.items():
        name = SHEET_OF[kind]
        sheets[name] = Sheet(
            name=name,
            columns=list(_columns(kind)),
            rows=[(number, _cells(row, kind)) for number, row in enumerate(group, start=2)],
        )
    return sheets


def edit_registry(session: Session, *, kind: Kind, key: str, fields: Mapping[str, str], by: str, now: datetime) -> str:
    """Change (or add) the row of ``kind`` named ``key`` with ``fields`` (the import's column
    names); returns what changed, in words. ``RegistryEditRefused`` names each field's problem."""
    sheets = registry_sheets(session)
    sheet = sheets[SHEET_OF[kind]]
    allowed = set(_columns(kind)) - {KEY_OF[kind]}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        reasons = {name: f"{name!r} is not a field of a {kind}; use {', '.join(sorted(allowed))}" for name in unknown}
        raise RegistryEditRefused("; ".join(reasons.values()), reasons)
    if not by.strip():
        raise RegistryEditRefused("say who is making the change", {"by": "say who is making the change"})
    wanted = key.strip().lower() if kind == "person" else key.strip()
    if not wanted:
        raise RegistryEditRefused(f"name the {kind}", {KEY_OF[kind]: f"name the {kind}"})
    if kind == "person":
        left = session.exec(select(Person).where(Person.email == wanted)).first()
        if left is not None and left.left_on is not None:
            reason = f"{wanted} left on {left.left_on}; edit their successor instead"
            raise RegistryEditRefused(reason, {"email": reason})

    before = {str(p) for p in check_registry(sheets)[3]}
    key_column = KEY_OF[kind]
    found = next(
        (cells for _, cells in sheet.rows if cell_text(cells[key_column]).casefold() == wanted.casefold()), None
    )
    if found is None:
        found = {column: "" for column in _columns(kind)}
        found[key_column] = wanted
        sheet.rows.append((len(sheet.rows) + 2, found))
    old = {name: cell_text(value) for name, value in found.items()}
    found.update({name: str(value).strip() for name, value in fields.items()})
    number = next(n for n, cells in sheet.rows if cells is found)
    agencies, people, boards, problems = check_registry(sheets)
    new = [p for p in problems if str(p) not in before]
    if new:
        located: dict[str, str] = {}
        for problem in new:
            if problem.sheet == sheet.name and problem.row == number:
                # On the edited row: under its field, or "row" for a rule across its fields.
                located[problem.column or "row"] = problem.reason
            else:
                located["registry"] = str(problem)  # what the edit breaks elsewhere in the registry
        raise RegistryEditRefused("; ".join(f"{f}: {r}" for f, r in located.items()), located)

    changed = [
        f"{name} {old.get(name) or '(none)'} → {cell_text(found[name]) or '(none)'}"
        for name in fields
        if old.get(name) != cell_text(found[name])
    ]
    if not changed:
        return "nothing changed"

    def mine(rows: Sequence[SQLModel]) -> list[Any]:
        return [r for r in rows if str(getattr(r, key_column)).casefold() == wanted.casefold()]

    upsert_registry(
        session=session,
        agencies=mine(agencies) if kind == "agency" else [],
        people=mine(people) if kind == "person" else [],
        boards=mine(boards) if kind == "board" else [],
    )
    detail = "; ".join(changed)
    session.add(RegistryChange(at=now, by=by.strip(), subject=wanted[:254], what=kind, detail=detail[:2000]))
    return detail
