"""The Ruby runtime: `bootstrap` starts `runtime_client.rb` (Ruby's standard library only) in the container.

The client runs there as a plain script; it is a package here only so that its files ship with lambda-emu."""
