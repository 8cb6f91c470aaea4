"""The HTTP API (`qclust serve`): FastAPI routes over the one `Service`, on uvicorn.

Nothing here imports at `qclust` start-up: the CLI imports this package only to serve.
"""
