"""The two settings pages as their users read them: the organisation's settings in fieldsets, saying
what each group moves and, once saved, which settings changed and what that did to the waiting
candidates; a person's own time zone picked from the IANA zones and checked when posted."""

from __future__ import annotations

import re

from feedback_sla.settings import service as settings_service

from .factories import UserFactory
from .helpers import logged_in, text
from .test_admin_pages import DEFAULTS, admin, manager, waiting  # noqa: F401  (fixtures)


def test_the_settings_page_groups_every_setting_in_a_fieldset(client, session, admin):  # noqa: F811
    logged_in(client, admin)
    page = client.get("/admin/settings").get_data(as_text=True)
    fieldsets = re.findall(r"<fieldset.*?</fieldset>", page, flags=re.S)
    legends = [re.search(r"<legend[^>]*>(.*?)</legend>", f).group(1) for f in fieldsets]
    assert legends[:3] == ["Organisation", "Deadlines", "Warnings and escalation"]
    for key in settings_service.DEFINITIONS:
        holding = [f for f in fieldsets if f'name="{key.replace(".", "_")}"' in f]
        assert len(holding) == 1, f"{key} is in {len(holding)} fieldsets"
    deadlines = fieldsets[legends.index("Deadlines")]
    assert "moves the deadlines of candidates already waiting" in deadlines
    assert 'name="warning_business_days"' not in deadlines
    assert "no deadline moves" in fieldsets[legends.index("Warnings and escalation")]


def test_a_new_warning_window_says_no_deadline_moved_and_which_setting_changed(
    client,
    session,
    admin,  # noqa: F811
    waiting,  # noqa: F811
):
    logged_in(client, admin)
    response = client.post(
        "/admin/settings", data={**DEFAULTS, "warning_business_days": "2"}, follow_redirects=True
    )
    page = text(response)
    assert "Saved. No open wait's deadline changed." in page
    assert "got new deadlines" not in page
    assert "open waits become due soon at a new time" in page
    assert "Changed: warning window (business days before the deadline)." in page


def test_a_new_deadline_rule_names_what_changed(client, session, admin, waiting):  # noqa: F811
    logged_in(client, admin)
    response = client.post(
        "/admin/settings", data={**DEFAULTS, "policy_application": "8"}, follow_redirects=True
    )
    page = text(response)
    assert "Saved. 2 open waits got new deadlines." in page
    assert "Changed: business days to answer an application." in page


def test_my_time_zone_is_picked_from_the_iana_zones_and_checked(client, session):
    person = UserFactory(time_zone="Europe/Berlin")
    logged_in(client, person)
    page = client.get("/account/settings").get_data(as_text=True)
    select = re.search(r'<select[^>]*id="time_zone".*?</select>', page, flags=re.S).group(0)
    assert '<option selected value="Europe/Berlin">Europe/Berlin</option>' in select
    assert '<option value="America/New_York">America/New York</option>' in select
    assert select.count("<option") > 300

    form = {"name": person.name, "digest_hour": "8", "digest_enabled": "y"}
    refused = client.post("/account/settings", data={**form, "time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 200  # the page again, with the reason; nothing saved
    assert "unknown time zone &#39;Mars/Olympus_Mons&#39;" in refused.get_data(as_text=True)
    session.refresh(person)
    assert person.time_zone == "Europe/Berlin"

    saved = client.post("/account/settings", data={**form, "time_zone": "America/Argentina/Ushuaia"})
    assert saved.status_code == 302
    session.refresh(person)
    assert person.time_zone == "America/Argentina/Ushuaia"
