"""The execution engine: invoker (deliver, deadline, release or reset) -> pool (which environment
serves a call) -> environment (state machine owning its container, Runtime API and log stream)."""
