from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from fangkong.audit.actions import set_context
from fangkong.places.actions import create_place
from fangkong.places.models import Place


class Command(BaseCommand):
    help = "Add a place to the jurisdiction tree: fangkong add-place KIND CODE NAME [--parent CODE]"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=Place.ORDER)
        parser.add_argument("code")
        parser.add_argument("name")
        parser.add_argument("--parent", help="code of the parent place")

    def handle(self, *args, kind, code, name, parent, **opts):
        set_context(ip="cli")
        parent_place = None
        if parent:
            parent_place = Place.objects.filter(code=parent).first()
            if parent_place is None:
                raise CommandError(f"no place with code {parent!r}")
        try:
            place = create_place(acting_user=None, kind=kind, name=name.strip(), code=code.strip(), parent=parent_place)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        except IntegrityError:
            raise CommandError(f"a place with code {code!r} already exists") from None
        self.stdout.write(f"added {place.kind} {place.code} {place.name}")
