"""Loupe's annotator: ``loupe serve`` (or ``streamlit run annotator/app.py``).

A thin entry: sign-in, the project chooser and the navigation between pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script by ``streamlit run``: make the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st

from annotator import auth, workspace

st.set_page_config(page_title="Loupe", page_icon="🔍", layout="wide")

user = auth.current_user()
if user is None:
    st.navigation([st.Page(auth.sign_in_page, title="Sign in", icon=":material/login:")]).run()
    st.stop()

pages = [
    st.Page("pages/annotate.py", title="Annotate", icon=":material/edit:", default=True),
    st.Page("pages/grid.py", title="Review grid", icon=":material/grid_view:"),
    st.Page("pages/labels.py", title="Label review", icon=":material/rule:"),
    st.Page("pages/overview.py", title="Project overview", icon=":material/monitoring:"),
    st.Page("pages/models.py", title="Snapshots & models", icon=":material/model_training:"),
    st.Page("pages/sources.py", title="Sources & errors", icon=":material/folder_open:"),
]
navigation = st.navigation(pages)
with st.sidebar:
    workspace.choose_project_in_sidebar()
    st.caption(f"Signed in as **{user['name']}** ({user['role']})")
    if st.button("Sign out", key="sign-out"):
        auth.sign_out()
        st.rerun()
navigation.run()
