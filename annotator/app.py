"""Loupe's annotator: ``loupe serve`` (or ``streamlit run annotator/app.py``).

A thin entry: sign-in, the project chooser and the navigation between pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script by ``streamlit run``: make the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st

from annotator import access, auth, workspace

st.set_page_config(page_title="Loupe", page_icon="🔍", layout="wide")

user = auth.current_user()
if user is None:
    st.navigation([st.Page(auth.sign_in_page, title="Sign in", icon=":material/login:")]).run()
    st.stop()

# Only the pages the role may use: a page left out is neither listed nor rendered from its URL.
pages = [
    st.Page(page.path, title=page.title, icon=page.icon, default=n == 0)
    for n, page in enumerate(access.pages_for(user["role"]))
] or [st.Page(access.no_page, title="No access", icon=":material/block:")]
navigation = st.navigation(pages)
with st.sidebar:
    workspace.choose_project_in_sidebar()
    st.caption(f"Signed in as **{user['name']}** ({user['role']})")
    if st.button("Sign out", key="sign-out"):
        auth.sign_out()
        st.rerun()
navigation.run()
