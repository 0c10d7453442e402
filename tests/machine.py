"""The environment of the `fangkong` commands that tests run as subprocesses."""
import os


def fresh_machine_env(var_dir, **extra) -> dict:
    """The environment of a `fangkong` command on a fresh machine: this process's
    environment without its Fangkong, database and Redis settings; its own var directory
    (SQLite file, keys, Huey file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    env.update(FANGKONG_VAR=str(var_dir), **extra)
    return env
