from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from fangkong.audit.actions import set_context
from fangkong.places.actions import create_organization
from fangkong.places.models import Organization, Place


class Command(BaseCommand):
    help = "Add an organization (employer unit, enterprise, station, site, clinic) at a place."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=Organization.Kind.values)
        parser.add_argument("code")
        parser.add_argument("name")
        parser.add_argument("--place", required=True, help="code of the place it belongs to")

    def handle(self, *args, kind, code, name, place, **opts):
        set_context(ip="cli")
        target = Place.objects.filter(code=place).first()
        if target is None:
            raise CommandError(f"no place with code {place!r}")
        try:
            org = create_organization(acting_user=None, kind=kind, name=name.strip(), code=code.strip(), place=target)
        except IntegrityError:
            raise CommandError(f"an organization with code {code!r} already exists") from None
        self.stdout.write(f"added {org.kind} {org.code} {org.name}")
