"""Annotate: one item at a time, in the order of the project's queue."""

import streamlit as st

from annotator import views, workspace

project = workspace.project_or_stop()
st.header(f"Annotate · {project.name}")
views.single_editor(project)
