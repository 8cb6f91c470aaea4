"""The web UI's entry point (`qclust ui`): only the router; each page lives in `app/pages/`."""

from __future__ import annotations

import streamlit as st

from app.ui_login import require_login
from db.settings import Settings

st.set_page_config(page_title="qclust", layout="wide")
require_login(Settings())

# Paths are relative to this file. Adding a page is adding a line.
PAGES = [
    st.Page("pages/search.py", title="Search", icon=":material/search:", default=True),
    st.Page("pages/duplicates.py", title="Duplicate check", icon=":material/content_copy:"),
    st.Page("pages/clusters.py", title="Clusters", icon=":material/workspaces:"),
    st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
    st.Page("pages/labelling.py", title="Labelling", icon=":material/rule:"),
    st.Page("pages/corpora.py", title="Corpora", icon=":material/database:"),
]

st.navigation(PAGES).run()
