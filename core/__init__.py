"""The bottom layer every other package may use: settings (config.py) and the clock (clock.py)."""
