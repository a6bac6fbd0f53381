# Raises while it is loaded: Lambda reports the init error as Init<RuntimeError>.
raise 'cannot start: no configuration'
