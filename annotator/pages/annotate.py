"""Annotate: one item at a time, in the order of the project's queue."""

import streamlit as st

from annotator import views, workspace

project = workspace.project()
if project is None:
    st.info("No project yet. Create one with `loupe project create` and ingest data into it.")
    st.stop()
st.header(f"Annotate · {project.name}")
views.single_editor(project)
