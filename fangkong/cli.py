"""The `fangkong` command: Django's management commands with Fangkong's settings.

    fangkong migrate | demo | run | import-residents FILE --place CODE --user NAME | ...

Names may use dashes (import-residents) or underscores (import_residents).
"""
import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
