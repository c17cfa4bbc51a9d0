import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_create_api_token_for_an_unknown_user_fails():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")


def test_create_api_token_is_stable_until_rotated(analyst, capsys):
    call_command("create_api_token", "ana")
    first = capsys.readouterr().out.strip()
    call_command("create_api_token", "ana")
    assert capsys.readouterr().out.strip() == first
    call_command("create_api_token", "ana", "--rotate")
    assert capsys.readouterr().out.strip() != first
