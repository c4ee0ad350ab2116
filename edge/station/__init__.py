"""The station daemon: watch folders, classify each frame once, decide, and publish over MQTT."""
