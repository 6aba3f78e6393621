"""Assurance cycles on the dashboard: the list of cycles with who has not returned; a period's
matrix of agencies × standards with last period's rating beside each, seen whole by the board and
the Assurance Board and by an agency's lead for their own agency only; one return's page, where the
board's chair challenges and accepts (refused with the reason for the lead and for anyone else,
and without a CSRF token), and where an Assurance Board member, and nobody else, raises a
recommendation from a standard not met, which the return then links to."""

from __future__ import annotations

import re

import pytest

from gateway.workflows import recommendation_status
from models.cycle_lifecycle import SubmitReturnInput, return_path
from models.cycle_returns import Rating
from tests import factories as f
from tests.helpers import eventually, seed_registry, server_clock
from tests.web.cycle_fixtures import ACTION, EARLIER, PERIOD, Returns, answers, returns, stored_stage  # noqa: F401
from tests.web.test_dashboard import browser  # noqa: F401 (a fixture)
from tests.web_client import csrf_of, text_of
from web.wording import RETURN_EVENTS
from workflows.cycle_return import CycleReturnWorkflow


@pytest.fixture
def registry(database_url) -> None:
    """The registry of ``tests.helpers.seed_registry``: the board's sponsor and chair, the
    Assurance Board member, the auditor, the owners and each agency's lead."""
    seed_registry(database_url)


async def signed_in(env, browser, who: str):  # noqa: F811
    return (await browser(who, clock=await server_clock(env))).client


async def post_form(client, page_path: str, action: str, fields: dict[str, str]):
    """Post a form of ``page_path`` as a browser does, with the page's CSRF token."""
    page = await client.get(page_path)
    return await client.post(f"{page_path}/{action}", data={"csrf_token": csrf_of(page.text), **fields})


class TestTheListAndTheMatrix:
    async def test_the_matrix_shows_ratings_last_period_and_who_has_not_returned(self, env, browser, returns):  # noqa: F811
        """The board's sponsor finds the cycle in the navigation and the list (1 of 2 returned, the
        police not); its matrix gives each rating in words with a colour, last period's beneath,
        each agency's stage and due day and a link to its return, and links the earlier period."""
        sponsor = await signed_in(env, browser, f.SPONSOR)
        assert 'href="/dashboard/cycles"' in (await sponsor.get("/dashboard")).text
        listed = await sponsor.get("/dashboard/cycles")
        assert listed.status_code == 200 and "no-store" in listed.headers["cache-control"]
        row = text_of(listed).split(returns.cycle_id)[1]
        assert "Review Board Yearly on 1 April Every agency in the registry 2" in row
        assert f"{PERIOD} 1 of 2 {f.POLICE}" in row

        page = await sponsor.get(f"/dashboard/cycles/{returns.cycle_id}")
        assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
        words = text_of(page)
        assert "Not returned (1)" in words and f"{f.POLICE} : not returned, due" in words
        matrix = page.text.split('id="matrix"')[1].split("</table>")[0]
        assert "<caption" in matrix and matrix.count('scope="col"') == 5 and matrix.count('scope="row"') == 2
        icb, police = matrix.split('scope="row"')[1:]
        assert f.ICB in icb and f.POLICE in police
        assert re.search(r"govuk-tag--green[^>]*>\s*Met\s*<", icb) and re.search(
            r"govuk-tag--red[^>]*>\s*Not met\s*<", icb
        )
        assert f"{EARLIER}: Met" in text_of_html(icb) and f"{EARLIER}: Partly met" in text_of_html(icb)
        assert "Submitted" in text_of_html(icb) and "Not returned" in text_of_html(police)
        assert text_of_html(police).count("No rating") == 2 and text_of_html(police).count(f"{EARLIER}: Met") == 2
        assert f'href="{return_path(returns.cycle_id, PERIOD, f.ICB)}"' in icb
        assert f'href="?period={EARLIER}"' in page.text  # the period picker

        earlier = text_of(await sponsor.get(f"/dashboard/cycles/{returns.cycle_id}?period={EARLIER}"))
        assert "Not returned (0)" in earlier and "2 of 2 agencies have returned" in earlier
        assert (await sponsor.get(f"/dashboard/cycles/{returns.cycle_id}?period=someday")).status_code == 404

    async def test_a_lead_sees_their_own_agency_and_an_owner_sees_no_cycle(self, env, browser, returns):  # noqa: F811
        """The police's lead sees the cycle with the police's row alone, and not the ICB's return;
        an owner with no part in the cycle finds it neither listed nor at its address."""
        lead = await signed_in(env, browser, f.POLICE_LEAD)
        page = await lead.get(f"/dashboard/cycles/{returns.cycle_id}")
        words = text_of(page)
        assert page.status_code == 200 and "You see the returns of your own agency only" in words
        assert f.POLICE in words and f.ICB not in words
        assert (await lead.get(returns.path(f.ICB))).status_code == 404
        assert (await lead.get(returns.path(f.POLICE))).status_code == 200

        owner = await signed_in(env, browser, f.OWNER)
        assert returns.cycle_id not in (await owner.get("/dashboard/cycles")).text
        assert (await owner.get(f"/dashboard/cycles/{returns.cycle_id}")).status_code == 404
        assert (await owner.get(returns.path(f.ICB))).status_code == 404


class TestReviewingAReturn:
    async def test_the_chair_challenges_then_accepts_and_others_are_refused(self, env, browser, returns, database_url):  # noqa: F811
        """The lead and the auditor (who sees every return) are offered no form and are refused
        with the reason when they post; the chair's empty challenge is refused at its field; the
        chair's challenge sends the return back, the lead's answer shows beside it, and the chair's
        acceptance closes it, after which nothing is left to decide."""
        path = returns.path(f.ICB)
        lead = await signed_in(env, browser, f.ICB_LEAD)
        page = await lead.get(path)
        words = text_of(page)
        assert page.status_code == 200 and "Training records show 61%" in words and ACTION in words
        assert "Review the return" not in words and "Raise a recommendation" not in words
        refused = await post_form(lead, path, "accept", {"note": ""})
        reason = "Only the board's sponsor or chair may accept or challenge a return"
        assert refused.status_code == 409 and reason in text_of(refused)
        auditor = await signed_in(env, browser, f.AUDITOR)
        assert "Review the return" not in text_of(await auditor.get(path))
        refused = await post_form(auditor, path, "challenge", {"challenge": "Why?"})
        assert refused.status_code == 409 and reason in text_of(refused)

        chair = await signed_in(env, browser, f.CHAIR)
        page = await chair.get(path)
        assert "Review the return" in text_of(page) and 'action="' + path + '/accept"' in page.text
        empty = await post_form(chair, path, "challenge", {"challenge": "  "})
        assert empty.status_code == 422 and "Write the challenge" in text_of(empty)
        challenge = "61% is not every ward: which are left, and when do they train?"
        taken = await post_form(chair, path, "challenge", {"challenge": challenge})
        assert taken.status_code == 303 and taken.headers["location"] == f"{path}?done=challenged"
        words = text_of(await chair.get(taken.headers["location"]))
        assert "The return is sent back with your challenge" in words and challenge in words
        assert "Challenged" in words and "The agency's answer: Not answered yet." in words
        assert "Review the return" not in words  # nothing to review until the lead answers
        assert "challenged" == await eventually(lambda: stored_stage(database_url, returns.workflow_id(f.ICB)))

        answer = "Wards 3 and 7 train in May; standard 2 is now partly met"
        await returns.handles[f.ICB].execute_update(
            CycleReturnWorkflow.submit_return,
            SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=returns.action_due, second=Rating.partly_met),
                              response=answer),
        )  # fmt: skip
        assert f"The agency's answer: {answer}" in text_of(await chair.get(path))
        taken = await post_form(chair, path, "accept", {"note": "Assured by the training plan"})
        assert taken.status_code == 303 and taken.headers["location"] == f"{path}?done=accepted"
        words = text_of(await chair.get(taken.headers["location"]))
        assert "The return is accepted" in words and f"by {f.CHAIR}" in words
        assert all(RETURN_EVENTS[kind] in words for kind in ("requested", "submitted", "challenged", "accepted"))
        assert "Review the return" not in words
        again = await post_form(chair, path, "accept", {"note": ""})
        assert again.status_code == 409 and "The return is accepted: there is nothing left to decide" in text_of(again)

    async def test_a_decision_without_the_csrf_token_is_refused(self, env, browser, returns):  # noqa: F811
        """A post with no token, or another session's, is refused and decides nothing."""
        chair = await signed_in(env, browser, f.CHAIR)
        path = returns.path(f.ICB)
        missing = await chair.post(f"{path}/accept", data={"note": ""})
        assert missing.status_code == 403
        other = csrf_of((await (await signed_in(env, browser, f.SPONSOR)).get(path)).text)
        forged = await chair.post(f"{path}/accept", data={"csrf_token": other, "note": ""})
        assert forged.status_code == 403
        status = await returns.handles[f.ICB].query(CycleReturnWorkflow.status)
        assert status.state.stage.value == "submitted"

    async def test_last_periods_return_is_read_from_the_record(self, env, browser, returns):  # noqa: F811
        """Its workflow is gone: the page says so and shows the stored answers, with no form."""
        chair = await signed_in(env, browser, f.CHAIR)
        page = await chair.get(returns.path(f.ICB, EARLIER))
        words = text_of(page)
        assert page.status_code == 200 and "this is the record" in words
        assert "Partly met" in words and "Audit supervision" in words and "Review the return" not in words


class TestRaisingARecommendation:
    async def test_an_assurance_member_raises_one_and_the_return_links_it(self, env, browser, returns):  # noqa: F811
        """The sponsor is offered no button and is refused with the reason; the Assurance Board
        member's button is on standard 2 (not met) alone, and raising it starts a recommendation
        whose action is the agency's and whose source is the cycle and period, linked from the
        return's page and the matrix."""
        path = returns.path(f.ICB)
        sponsor = await signed_in(env, browser, f.SPONSOR)
        assert "Raise a recommendation" not in text_of(await sponsor.get(path))
        refused = await post_form(sponsor, path, "raise", {"standard_id": "2"})
        assert refused.status_code == 409
        assert "Only a member of the Assurance Board may raise a recommendation" in text_of(refused)

        member = await signed_in(env, browser, f.ASSURANCE)
        page = await member.get(path)
        assert page.text.count('name="standard_id"') == 1 and 'name="standard_id" value="2"' in page.text
        raised = await post_form(member, path, "raise", {"standard_id": "2"})
        assert raised.status_code == 303 and raised.headers["location"] == f"{path}?done=raised#standard-2"
        page = await member.get(raised.headers["location"])
        [ref] = re.findall(r'href="/dashboard/r/([^"]+)"', page.text)
        returns.raised.append(ref)
        assert "The recommendation is raised" in text_of(page) and "Raise a recommendation" not in text_of(page)
        status = await recommendation_status(env.client, ref)
        assert (status.title, status.board) == ("Staff trained to their role", "Review Board")
        assert [(a.description, a.owner, a.agency) for a in status.actions] == [(ACTION, f.OWNER, f.ICB)]
        assert status.source.title == f"Section 11 audit {PERIOD}: {f.ICB}"
        matrix = await member.get(f"/dashboard/cycles/{returns.cycle_id}")
        assert f'href="/dashboard/r/{ref}"' in matrix.text
        assert (await member.get(f"/dashboard/r/{ref}")).status_code == 200


def text_of_html(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())
