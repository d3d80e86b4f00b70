"""Demo app deployed by the tests: static text plus one widget that needs the WebSocket."""

import os

import streamlit as st

st.title("Streamlit ops demo")
st.write("Hello from Streamlit ops")
multiplier = st.slider("Multiplier", min_value=1, max_value=10, value=2)
st.write(f"Result: {6 * multiplier}")
greeting = os.environ.get("DEMO_GREETING")
if greeting:
    st.text(f"Greeting: {greeting}")
