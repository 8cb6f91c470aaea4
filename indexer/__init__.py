"""Files in, vectors and a FAISS index out; search and duplicate lookup over them.

The public API the CLI, the UI and the HTTP lookup share::

    from indexer import ingest_file, open_searcher
"""

from indexer.ingest import IngestReport, ingest_file
from indexer.search import CorpusSearcher, DuplicateCheck, Hit, open_searcher

__all__ = [
    "CorpusSearcher",
    "DuplicateCheck",
    "Hit",
    "IngestReport",
    "ingest_file",
    "open_searcher",
]
