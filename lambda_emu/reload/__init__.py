"""Hot reload: a watchdog watcher (watcher) and the pure policy deciding what a change means (policy)."""
