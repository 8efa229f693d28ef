"""Annotate: one item at a time, in the order of the project's queue."""

import streamlit as st

from annotator import access, views, workspace

access.page_or_stop(__file__)

project = workspace.project_or_stop()
st.header(f"Annotate · {project.name}")
views.single_editor(project)
