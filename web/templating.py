"""The web pages' jinja environment: our templates, then the GOV.UK Frontend macros, escaped."""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape

from models.plain_text import shown_harmlessly
from web import wording

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "web"


def environment() -> Environment:
    """Autoescaping everywhere. Undefined names render empty, as the GOV.UK macros expect."""
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATE_DIR),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja", "templates")}),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown_harmlessly,
    )
    env.filters["ukdate"] = wording.uk_date
    env.filters["ukday"] = wording.uk_day
    env.filters["uktime"] = wording.uk_time
    return env
