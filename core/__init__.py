"""The bottom layer every other package may use, importing none of them: settings (config.py),
the clock (clock.py), a conversation's turn (turn.py), YAML data files (datafile.py), text
normalising (text.py), personal data (pii.py) and places (regions.py)."""
