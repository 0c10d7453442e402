import random
import time

from django.db import transaction
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from fangkong.core import demo
from fangkong.places.models import Place


class Command(BaseCommand):
    help = "Build the synthetic demo street (once) and print one account per role with a fresh password."

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=90_000, help="number of persons (households = persons / 3)")
        parser.add_argument("--seed", type=int, default=2020)
        parser.add_argument("--accounts-only", action="store_true", help="only reset the demo accounts")

    def handle(self, *args, persons, seed, accounts_only, **opts):
        if persons < 1 or persons > 5_000_000:
            raise CommandError("--persons must be between 1 and 5,000,000")
        tree = None
        if not Place.objects.filter(code=demo.STREET_CODE).exists():
            if accounts_only:
                raise CommandError("no demo street yet: run `fangkong demo` first")
            rng = random.Random(seed)
            t0 = time.monotonic()
            atomic = transaction.atomic()  # all or nothing: a failed build leaves no half street
            atomic.__enter__()
            tree = demo.build_tree(rng)
            bar = tqdm(total=persons, unit="persons", desc="demo street", disable=None)
            last = [0]

            def progress(n):
                bar.update(n - last[0])
                last[0] = n

            try:
                households, made = demo.build_people(rng, tree, persons, progress)
                activity = demo.build_activity(rng, tree)
            except BaseException as exc:
                atomic.__exit__(type(exc), exc, exc.__traceback__)
                raise
            atomic.__exit__(None, None, None)
            bar.close()
            self.stdout.write(f"Demo street built: 12 communities, 141 grids, 8 compounds, 66 employer units, "
                              f"{households} households, {made} persons, {activity['applications']} inflow applications, "
                              f"{activity['observations']} observations, {activity['passes']} passes, "
                              f"{activity['gate_entries']} gate entries, {activity['visits']} census visits, "
                              f"{activity['declarations']} declarations, {activity['submissions']} daily figures "
                              f"in {time.monotonic() - t0:.0f}s")
        else:
            self.stdout.write("Demo street exists; resetting the demo accounts.")
        rows = demo.demo_accounts(tree)
        self.stdout.write("\nDemo accounts (passwords are new each time this runs):")
        for role, username, password, target in rows:
            self.stdout.write(f"  {role:<13} {username:<18} {password:<16} {target}")
