"""Tools around the station: synthetic frames, a camera replayer, an MQTT listener, a private broker."""
