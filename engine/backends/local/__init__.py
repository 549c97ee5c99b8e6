"""Local processes: how one is started (in a session of its own), supervised to its end or
deadline, and contained (a cgroup per command where the engine may make one)."""
