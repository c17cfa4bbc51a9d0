import argparse
import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.services import DemoDataError, demo_data_load


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        # argparse turns this into a usage error (exit 2), or a CommandError in call_command.
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None


class Command(BaseCommand):
    help = (
        "Write synthetic demo customers and a year of their transactions, drawn from a few "
        "planted behavioural groups (Champions, Bargain regulars, Big occasional spenders, "
        "Lapsed, New customers). Refuses to touch existing customers unless --flush."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=5000, help="default 5000")
        parser.add_argument(
            "--seed", type=int, default=0, help="same seed, same data (default 0)"
        )
        parser.add_argument(
            "--flush",
            action="store_true",
            help="delete all existing customers and transactions (and their segment "
            "memberships) first",
        )
        parser.add_argument(
            "--end-date",
            type=iso_date,
            default=None,
            help="last day of the year of transactions, YYYY-MM-DD (default: today, UTC)",
        )

    def handle(self, *args, customers: int, seed: int, flush: bool, end_date, **options):
        def progress(done: int, total: int) -> None:
            self.stderr.write(f"  {done:,} / {total:,} customers")

        try:
            summary = demo_data_load(
                customers=customers, seed=seed, flush=flush, end_date=end_date,
                progress=progress,
            )
        except DemoDataError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Wrote {summary.customers:,} customers and {summary.transactions:,} "
            f"transactions in {summary.seconds:.1f} s"
        )
