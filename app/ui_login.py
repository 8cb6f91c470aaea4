"""Sign-in for an exposed UI: an analyst pastes an API token (`qclust tokens create`).

`qclust ui --host ADDRESS` (anything but loopback) turns it on through `QCLUST_UI_LOGIN`; the
token's name becomes the analyst's name on every label and edit, and a read-only token can
search and browse but not change anything.
"""

from __future__ import annotations

import streamlit as st

from db.settings import Settings
from db.tokens import TokenInfo, authenticate

_SIGNED_IN = "signed_in"


def signed_in_user() -> TokenInfo | None:
    found = st.session_state.get(_SIGNED_IN)
    return found if isinstance(found, TokenInfo) else None


def require_login(settings: Settings) -> None:
    """Stop the page here until a valid token is given, when the UI is set to ask for one."""
    if not settings.ui_login or signed_in_user() is not None:
        return
    st.title("qclust")
    with st.form("sign_in"):
        secret = st.text_input("API token", type="password", help="From `qclust tokens create`")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        from app.ui_resources import sessions  # the page's cached factory

        with sessions(settings).begin() as session:
            found = authenticate(session, secret.strip())
        if found is None:
            st.error("That token is not valid, or it was revoked.")
        else:
            st.session_state[_SIGNED_IN] = found
            st.rerun()
    st.stop()
