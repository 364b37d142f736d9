"""The policy knowledge base: load notices, split and chunk them, index (BM25 + dense), answer."""
