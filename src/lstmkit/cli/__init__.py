"""The ``lstmkit`` command. The only part of lstmkit that writes to the terminal."""
