"""Review grid: pages of crops, each with its suggestion, for one-key accept or flip."""

import streamlit as st

from annotator import access, cache, views, workspace

access.page_or_stop(__file__)

project = workspace.project_or_stop()
if project.modality != "crop":
    st.info(f"The review grid is for crop projects; **{project.name}** holds {project.modality}.")
    st.page_link("pages/annotate.py", label="Annotate it item by item", icon=":material/edit:")
    st.stop()
st.header(f"Review grid · {project.name}")
settings = cache.settings()
views.crop_grid(project, settings.grid_rows, settings.grid_columns)
