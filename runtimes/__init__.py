"""Runtime build contexts and in-container runtime clients, one folder per runtime (see README.md).

A package only so that these files ship inside lambda-emu and an installed copy can build its images."""
