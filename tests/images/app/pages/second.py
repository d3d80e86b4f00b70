"""Second page of the demo app: its URL is <base path>/second."""

import streamlit as st

st.title("Second page")
st.text("This is the second page of Streamlit ops")
