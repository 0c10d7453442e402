"""fangkong grant USERNAME ROLE (--place CODE | --org CODE | --everything) [--create] [--revoke]"""
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from fangkong.accounts.actions import add_grant, create_user, revoke_grant
from fangkong.places.models import Grant
from fangkong.audit.actions import set_context
from fangkong.places.access import all_roles
from fangkong.places.models import Organization, Place


class Command(BaseCommand):
    help = "Give (or take back) a role over a place subtree or an organization; --create makes the account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=all_roles())
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--place", help="code of the place (the grant covers its whole subtree)")
        where.add_argument("--org", help="code of the organization")
        where.add_argument("--everything", action="store_true", help="admin only: no scope limit")
        parser.add_argument("--create", action="store_true", help="create the account with a generated password")
        parser.add_argument("--name", default="", help="display name for a new account")
        parser.add_argument("--revoke", action="store_true", help="take the grant back instead")

    @transaction.atomic
    def handle(self, *args, username, role, place, org, everything, create, name, revoke, **opts):
        set_context(ip="cli")
        if (role == "admin") != bool(everything):
            raise CommandError("the admin role takes --everything; other roles take --place or --org")
        target = None
        if place:
            target = Place.objects.filter(code=place).first()
            if target is None:
                raise CommandError(f"no place with code {place!r}")
        if org:
            target = Organization.objects.filter(code=org).first()
            if target is None:
                raise CommandError(f"no organization with code {org!r}")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        password = None
        if user is None:
            if not create:
                raise CommandError(f"no user {username!r} (add --create to make the account)")
            password = secrets.token_urlsafe(12)
            try:
                validate_password(password)
            except ValidationError as exc:  # pragma: no cover - a random 16-char token passes
                raise CommandError(" ".join(exc.messages)) from None
            user = create_user(acting_user=None, username=username, password=password, display_name=name)
        if revoke:
            n = revoke_grant(acting_user=None, user=user, role=role, target=target)
            if not n:
                raise CommandError("no such grant")
            self.stdout.write(f"revoked {role} from {username}")
            return
        if Grant.objects.filter(user=user, role=role, place=target if place else None,
                                organization=target if org else None, active=True).exists():
            raise CommandError("this grant exists already")
        add_grant(acting_user=None, user=user, role=role, target=target)
        self.stdout.write(f"granted {role} over {target or 'everything'} to {username}")
        if password:
            self.stdout.write(f"new account {username}, password: {password}")
