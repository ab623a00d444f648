"""The Procfile's release command: notes the release it ran for."""
import os
import pathlib

data = pathlib.Path("/srv/pws") / os.environ["PWS_SITE"] / "data"
with open(data / "released", "a") as f:
    f.write(f"{os.environ.get('PWS_RELEASE', os.getcwd())}\n")
