"""Entry points people and programs use: the CLI, the Streamlit UI and the HTTP lookup."""
