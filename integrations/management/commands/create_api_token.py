from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from integrations.scopes import SCOPES
from integrations.services.tokens import token_create


class Command(BaseCommand):
    help = (
        "Print an API token of a user. Without --scope: the user's full-access token (created if the "
        "user has none; --rotate replaces it). With --scope (repeatable): a new integration token limited "
        f"to those scopes, acting as the user; the key is printed once. Scopes: {', '.join(SCOPES)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace an existing full-access token.")
        parser.add_argument("--scope", action="append", default=[], choices=list(SCOPES),
                            help="Limit a new integration token to this scope (repeat for several).")
        parser.add_argument("--name", default="", help="What the integration token is for (default: cli).")

    def handle(self, *args, username, rotate, scope, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        if scope:
            if rotate:
                raise CommandError("--rotate applies to the full-access token; revoke integration tokens on "
                                   "the Integrations page.")
            try:
                _, key = token_create(user=user, name=name or "cli", scopes=scope, created_by=user)
            except ValidationError as exc:
                raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
            self.stdout.write(key)
            return
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
