"""For `make run`: a demo user per role, an administrator for /admin/, and demo data when the
database is empty."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from customers.selectors import customer_count
from customers.services.features import features_compute_create, features_execute
from custseg_site import roles

DEMO_PASSWORD = "custseg-demo"
DEMO_USERS = {"analyst": roles.ANALYST, "marketer": roles.MARKETER, "manager": roles.MANAGER}
# Django's admin (/admin/) for the demo: a superuser apart from the role users, so that the
# roles show what each role may do, and /admin/ is where roles are given to new users.
DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Create demo users (one per role, and an administrator) and load demo data if there are no customers."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=5000)

    def handle(self, *args, customers, **options):
        User = get_user_model()
        for username, role in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))
        if not User.objects.filter(username=DEMO_ADMIN).exists():
            User.objects.create_superuser(username=DEMO_ADMIN, email="", password=DEMO_PASSWORD)
        if customer_count() == 0:
            call_command("demo_data", customers=customers, seed=0)
            # computed here, not queued: `make run` starts Redis and the worker only after
            # this command, so a queued job could not be sent (a few seconds at 5,000 customers)
            self.stdout.write("Computing the demo customers' features ...")
            snapshot = features_compute_create(trigger="demo data", enqueue=False)
            features_execute(snapshot_id=snapshot.pk)
            snapshot.refresh_from_db()
            self.stdout.write(f"Features #{snapshot.pk} {snapshot.status}: {snapshot.customers or 0:,} customers")
        self.stdout.write("")
        self.stdout.write(f"Demo users (password for each: {DEMO_PASSWORD}):")
        for username, role in DEMO_USERS.items():
            self.stdout.write(f"  {username:<9} {role}")
        self.stdout.write(f"  {DEMO_ADMIN:<9} administrator: Django's admin at /admin/ (users and their roles)")
