"""What schemathesis generates for the API's addresses and time zones, for the suite and for CI's
`schemathesis run` (`SCHEMATHESIS_HOOKS=tests/schemathesis_hooks.py`).

The document's addresses are ``idn-email`` narrowed by the address rule: no quoted local part, IP
literal or reserved domain such as ``.test``. Generated addresses are what a client may send,
internationalized ones too; the rule itself decides, so the two cannot drift apart.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from feedback_sla.addresses import InvalidAddress, normalize_address
from feedback_sla.timeutil import zone_names
from feedback_sla.web.api.schemas import TIME_ZONE_FORMAT


def _accepted(address: str) -> bool:
    try:
        normalize_address(address)
    except InvalidAddress:
        return False
    return True


schemathesis.openapi.format(
    "idn-email",
    st.one_of(
        st.emails(),
        st.sampled_from(["chloé.nakamura2@example.com", "jonas@münchen.de", "用户@例子.广告"]),
    ).filter(_accepted),
)

#: A candidate's time zone: a name of the IANA database the server has (``iana-time-zone``).
schemathesis.openapi.format(TIME_ZONE_FORMAT, st.sampled_from(sorted(zone_names())))
