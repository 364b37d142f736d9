"""Messages that arrive together just after a start all find the forms (the registry is filled
before it is marked loaded, under a lock)."""
import threading

from forms import engine, registry


def test_concurrent_first_messages_all_find_their_form(monkeypatch):
    monkeypatch.setattr(registry, "FORMS", {})
    monkeypatch.setattr(registry, "_loaded", False)
    found, start = [], threading.Barrier(8)

    def first_message():
        start.wait()
        found.append(engine.match_trigger("以工代训自测"))

    threads = [threading.Thread(target=first_message) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(found) == 8 and len(set(found)) == 1 and found[0] is not None
