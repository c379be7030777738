"""`manage.py seed_demo`: a demo user, workspace, customers, segments and activations."""

import csv
import datetime
import io
import os
import random
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from activations.models import Activation
from activations.services import create_activation
from common.validation import InvalidInput
from connectors.models import Connection
from connectors.services import create_connection
from segments import refresh, services
from segments.models import ParentSegment, Segment
from sources.models import Source
from sources.services import create_source
from workspaces.models import Membership, Workspace

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 (printed: the demo login)
PARENT_NAME = "Customers"
CONNECTION_NAME = "Salesforce emulator (demo)"
SHOP_FILE = "demo_shop.db"
SHOP_SOURCE_NAME = "Demo shop (SQLite)"
SHOP_PARENT_NAME = "Shop customers"
SHOP_CUSTOMERS = 200
# Seeded so that every run generates the same people (dates move with today).
RANDOM_SEED = 20240501

COLUMNS = [
    {"name": "customer_id", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "first_name", "type": "string"},
    {"name": "last_name", "type": "string"},
    {"name": "country", "type": "string"},
    {"name": "plan", "type": "string"},
    {"name": "signup_date", "type": "date"},
    {"name": "lifetime_value", "type": "number"},
    {"name": "consent", "type": "boolean"},
    {"name": "age", "type": "integer"},
    {"name": "last_seen_at", "type": "timestamp"},
]
FIRST_NAMES = {
    "JP": ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura", "Kenji", "Mei"],
    "KR": ["Minjun", "Seoyeon", "Jiho", "Jiwoo", "Hyun", "Soyeon", "Dohyun", "Yuna"],
    "US": ["James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Mason", "Sophia", "Ethan"],
    "GB": ["Oliver", "Amelia", "George", "Isla", "Harry", "Freya", "Jack", "Poppy"],
    "DE": ["Lukas", "Mia", "Jonas", "Lena", "Felix", "Emilia", "Jürgen", "Zoë"],
    "FR": ["Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Théo", "Inès"],
    "BR": ["João", "Ana", "Pedro", "Júlia", "Lucas", "Beatriz", "Mateus", "Larissa"],
}
LAST_NAMES = {
    "JP": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"],
    "KR": ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"],
    "US": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis"],
    "GB": ["Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner"],
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"],
    "BR": ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves"],
}
COUNTRY_WEIGHTS = {"JP": 30, "US": 25, "KR": 12, "GB": 10, "DE": 9, "FR": 8, "BR": 6}
PLAN_WEIGHTS = {"free": 50, "basic": 25, "pro": 18, "enterprise": 7}
# Typical lifetime value by plan; each customer's is drawn around it.
PLAN_VALUE = {"free": 40, "basic": 300, "pro": 1200, "enterprise": 6000}
ASCII_NAMES = str.maketrans("üöäéèëïçãáíóúôê", "uoaeeeicaaiouoe")

SEGMENTS = [
    (
        "Marketing",
        "High value consenting customers",
        "Lifetime value over 1,000 and consent to marketing.",
        {
            "type": "and",
            "conditions": [
                {"column": "lifetime_value", "operator": "gt", "value": 1000},
                {"column": "consent", "operator": "eq", "value": True},
            ],
        },
    ),
    (
        "Marketing",
        "Win-back: free or low value, consenting",
        "Consenting customers on the free plan or worth under 100.",
        {
            "type": "and",
            "conditions": [
                {"column": "consent", "operator": "eq", "value": True},
                {
                    "type": "or",
                    "conditions": [
                        {"column": "plan", "operator": "eq", "value": "free"},
                        {"column": "lifetime_value", "operator": "lt", "value": 100},
                    ],
                },
            ],
        },
    ),
    (
        "Lifecycle",
        "Signed up last 30 days",
        "New customers, for the onboarding journey.",
        {
            "type": "and",
            "conditions": [{"column": "signup_date", "operator": "within_last_days", "value": 30}],
        },
    ),
    (
        "Lifecycle",
        "Young adults on paid plans",
        "Aged 18 to 29, on any plan but free.",
        {
            "type": "and",
            "conditions": [
                {"column": "age", "operator": "between", "value": [18, 29]},
                {"column": "plan", "operator": "not_in", "value": ["free"]},
            ],
        },
    ),
    (
        "Regional",
        "Japan and Korea",
        "Customers in JP or KR.",
        {
            "type": "and",
            "conditions": [{"column": "country", "operator": "in", "value": ["JP", "KR"]}],
        },
    ),
    (
        "Data quality",
        "Missing age",
        "Rows to fix at the source.",
        {"type": "and", "conditions": [{"column": "age", "operator": "is_null"}]},
    ),
]


class Command(BaseCommand):
    help = (
        "Create demo data: user demo/demo, a workspace, a 'Customers' parent segment with "
        "generated rows, segments in folders and, when SEED_DEMO_SALESFORCE_URL names a "
        "Salesforce (emulator) login URL, a connection and example activations. "
        "Running it again changes nothing but refreshing the generated rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=10_000, help="customers (default 10000)")
        parser.add_argument("--workspace", default="Demo", help="workspace name (default Demo)")

    def handle(self, *args, rows, workspace, **options):
        if rows < 0:
            raise CommandError("--rows must be 0 or more")
        user = self.demo_user()
        workspace = self.demo_workspace(workspace, user)
        parent = self.customers(workspace, rows)
        segments = self.segments(workspace, parent)
        self.activations(workspace, segments)
        self.shop_source(workspace)

    def shop_source(self, workspace: Workspace) -> None:
        """A small SQLite database under SOURCE_FILE_ROOT, a source reading it and a parent
        segment refreshed from its customers table (refreshed once now, then daily)."""
        root = settings.SOURCE_FILE_ROOT
        if not root:
            self.say("SOURCE_FILE_ROOT is not set: no demo source (bin/serve sets it).")
            return
        path = Path(root) / SHOP_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_shop_database(path)
        source = Source.objects.filter(workspace=workspace, name=SHOP_SOURCE_NAME).first()
        if source is None:
            source = create_source(
                workspace=workspace,
                data={"name": SHOP_SOURCE_NAME, "url": f"sqlite:///{SHOP_FILE}"},
            )
            self.say(f"Created source {SHOP_SOURCE_NAME!r} ({path}).")
        parent = ParentSegment.objects.filter(workspace=workspace, name=SHOP_PARENT_NAME).first()
        if parent is None:
            parent = services.create_parent_segment(
                workspace=workspace,
                data={
                    "name": SHOP_PARENT_NAME,
                    "description": "Read from the demo shop's SQLite database, refreshed daily.",
                    "key_column": "customer_id",
                    "source": {"source": source.pk, "table": "main.customers"},
                    "refresh": {"mode": "replace", "schedule": {"type": "daily"}},
                },
            )
            self.say(f"Created parent segment {SHOP_PARENT_NAME!r} from the source.")
        done = refresh.refresh_now(parent)
        self.say(f"Refreshed {SHOP_PARENT_NAME!r}: {done.status}, {done.rows_imported} rows.")

    def say(self, message: str) -> None:
        self.stdout.write(message)

    def demo_user(self):
        users = get_user_model()
        user = users.objects.filter(username=DEMO_USERNAME).first()
        if user is not None:
            self.say(f"User {DEMO_USERNAME!r} exists (password unchanged).")
            return user
        # A superuser so that the admin works too: this command is for a laptop demo.
        user = users.objects.create_superuser(
            username=DEMO_USERNAME, email="demo@example.com", password=DEMO_PASSWORD
        )
        self.say(
            f"Created user {DEMO_USERNAME!r} with password {DEMO_PASSWORD!r} (a superuser; "
            "for a demo machine only)."
        )
        return user

    def demo_workspace(self, name: str, user) -> Workspace:
        workspace = Workspace.objects.filter(name=name, memberships__user=user).first()
        if workspace is None:
            workspace = Workspace.objects.filter(name=name).first()
        if workspace is None:
            workspace = Workspace.objects.create(name=name)
            self.say(f"Created workspace {name!r}.")
        Membership.objects.update_or_create(
            workspace=workspace, user=user, defaults={"role": Membership.Role.OWNER}
        )
        return workspace

    def customers(self, workspace: Workspace, rows: int) -> ParentSegment:
        parent = ParentSegment.objects.filter(workspace=workspace, name=PARENT_NAME).first()
        if parent is None:
            parent = services.create_parent_segment(
                workspace=workspace,
                data={
                    "name": PARENT_NAME,
                    "description": "Generated demo customers (seed_demo).",
                    "key_column": "customer_id",
                    "columns": COLUMNS,
                },
            )
            self.say(f"Created parent segment {PARENT_NAME!r} (id {parent.pk}).")
        else:
            # Columns added by hand stay; the generated ones must exist with these types.
            present = parent.column_types()
            missing = [column for column in COLUMNS if column["name"] not in present]
            if missing:
                services.update_parent_segment(parent, data={"columns": parent.columns + missing})
                parent.refresh_from_db()
        # Through the import service, like an uploaded file; "replace" keeps a rerun from
        # duplicating anything.
        with tempfile.TemporaryFile() as file:
            write_customers(file, rows, today=timezone.localdate())
            file.seek(0)
            result = services.import_profiles_file(parent_segment=parent, file=file)
        if not result.ok:
            raise CommandError("Generated rows were refused: " + "; ".join(map(str, result.errors)))
        self.say(f"Loaded {result.rows_imported} customers into {PARENT_NAME!r}.")
        return parent

    def segments(self, workspace: Workspace, parent: ParentSegment) -> dict[str, Segment]:
        segments = {}
        created = 0
        for folder, name, description, rules in SEGMENTS:
            segment = Segment.objects.filter(
                parent_segment=parent, folder=folder, name=name
            ).first()
            if segment is None:
                segment = services.create_segment(
                    workspace=workspace,
                    data={
                        "parent_segment": parent,
                        "name": name,
                        "description": description,
                        "folder": folder,
                        "rules": rules,
                    },
                )
                created += 1
            segments[f"{folder}/{name}"] = segment
        self.say(f"Segments: {created} created, {len(SEGMENTS) - created} already there.")
        return segments

    def activations(self, workspace: Workspace, segments: dict[str, Segment]) -> None:
        login_url = os.environ.get("SEED_DEMO_SALESFORCE_URL", "").strip()
        if not login_url:
            self.say(
                "No connection or activations: set SEED_DEMO_SALESFORCE_URL to a login URL "
                "(e.g. the emulator's https://127.0.0.1:8443, also listed in "
                "SALESFORCE_ALLOWED_HOSTS) to create them."
            )
            return
        connection = Connection.objects.filter(workspace=workspace, name=CONNECTION_NAME).first()
        if connection is None:
            try:
                connection = create_connection(
                    workspace=workspace,
                    data={
                        "name": CONNECTION_NAME,
                        "login_url": login_url,
                        "auth_method": "credentials",
                        "username": "marketer@example.com",
                        "password": "hunter2",
                        "security_token": "TOKEN123",
                    },
                )
            except InvalidInput as error:
                self.say(f"No connection or activations: the connection was refused ({error}).")
                return
            self.say(f"Created connection {CONNECTION_NAME!r} to {connection.login_url}.")
        created = 0
        for segment_path, payload in example_activations(connection):
            segment = segments[segment_path]
            if Activation.objects.filter(segment=segment, name=payload["name"]).exists():
                continue
            create_activation(workspace=workspace, data={**payload, "segment": segment.pk})
            created += 1
        self.say(f"Activations: {created} created.")


def example_activations(connection) -> list[tuple[str, dict]]:
    """(segment "folder/name", canonical activation payload) pairs for the emulator's objects."""
    export = {
        "mode": "update",
        "upsert": True,
        "key": "Customer_Key__c",
        "concurrency_mode": "parallel",
        "batch_size": 10_000,
        "api_version": "59.0",
        "retry_initial_delay": 1.0,
        "retry_limit": 3,
        "null_value": "leave",
        "hard_delete": False,
    }
    return [
        (
            "Marketing/High value consenting customers",
            {
                "name": "High value customers to Contacts",
                "description": "Upserts Contacts by Customer_Key__c. Run it by hand.",
                "connection": connection.pk,
                "enabled": True,
                "export": {**export, "object": "Contact"},
                "output_mapping": {
                    "export_all_columns": False,
                    "columns": [
                        {"source": "customer_id", "output": "Customer_Key__c"},
                        {"source": "email", "output": "Email"},
                        {"source": "first_name", "output": "FirstName"},
                        {"source": "last_name", "output": "LastName"},
                        {"source": "lifetime_value", "output": "Lifetime_Value__c"},
                        {"source": "last_seen_at", "output": "Last_Seen_At__c"},
                    ],
                    "strings": [
                        {
                            "output": "Description",
                            "parts": [
                                {"type": "string", "value": "Segment "},
                                {"type": "segment_name"},
                                {"type": "string", "value": ", exported "},
                                {"type": "timestamp", "format": "%Y-%m-%d %H:%M"},
                            ],
                        }
                    ],
                },
                "schedule": {"type": "none", "cron": "", "timezone": "UTC", "delay_seconds": 0},
                "notifications": {"emails": [], "on": "failure"},
            },
        ),
        (
            "Regional/Japan and Korea",
            {
                "name": "Japan and Korea audience, daily",
                "description": "Daily at 06:00 Tokyo time once enabled.",
                "connection": connection.pk,
                # Disabled so that a demo machine does not push on its own; enable it to try.
                "enabled": False,
                "export": {**export, "object": "Audience_Member__c"},
                "output_mapping": {
                    "export_all_columns": False,
                    "columns": [
                        {"source": "customer_id", "output": "Customer_Key__c"},
                        {"source": "email", "output": "Email__c"},
                        {"source": "consent", "output": "Consent__c"},
                        {"source": "lifetime_value", "output": "Lifetime_Value__c"},
                    ],
                    "strings": [
                        {
                            "output": "Name",
                            "parts": [
                                {"type": "string", "value": "Audience "},
                                {"type": "audience_id"},
                                {"type": "string", "value": " / segment "},
                                {"type": "segment_id"},
                            ],
                        },
                        {"output": "Segment_Name__c", "parts": [{"type": "segment_name"}]},
                        {"output": "Exported_At__c", "parts": [{"type": "timestamp"}]},
                    ],
                },
                "schedule": {
                    "type": "cron",
                    "cron": "0 6 * * *",
                    "timezone": "Asia/Tokyo",
                    "delay_seconds": 0,
                },
                "notifications": {"emails": ["marketing@example.com"], "on": "failure"},
            },
        ),
    ]


def write_customers(file, rows: int, *, today: datetime.date) -> None:
    """Write `rows` generated customers as CSV (UTF-8) to a binary file."""
    generator = random.Random(RANDOM_SEED)
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([column["name"] for column in COLUMNS])
    countries = list(COUNTRY_WEIGHTS)
    country_weights = list(COUNTRY_WEIGHTS.values())
    plans = list(PLAN_WEIGHTS)
    plan_weights = list(PLAN_WEIGHTS.values())
    now = datetime.datetime.combine(today, datetime.time(12), tzinfo=datetime.UTC)
    for number in range(1, rows + 1):
        country = generator.choices(countries, country_weights)[0]
        plan = generator.choices(plans, plan_weights)[0]
        first_name = generator.choice(FIRST_NAMES[country])
        last_name = generator.choice(LAST_NAMES[country])
        # Mostly older customers, with a steady trickle of recent sign-ups.
        days_ago = int(generator.expovariate(1 / 400)) % 1500
        signup = today - datetime.timedelta(days=days_ago)
        value = round(PLAN_VALUE[plan] * generator.lognormvariate(0, 0.6), 2)
        age = "" if generator.random() < 0.05 else generator.randint(18, 80)
        if generator.random() < 0.1:
            last_seen = ""
        else:
            seconds = generator.randint(0, max(days_ago, 1) * 86_400)
            last_seen = (now - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        local_part = f"{first_name}.{last_name}{number}".lower().translate(ASCII_NAMES)
        writer.writerow(
            [
                f"C{number:06d}",
                f"{local_part}@example.com",
                first_name,
                last_name,
                country,
                plan,
                signup.isoformat(),
                f"{value:.2f}",
                "true" if generator.random() < 0.7 else "false",
                age,
                last_seen,
            ]
        )
    text.flush()
    text.detach()  # leave the binary file open for the caller


def write_shop_database(path: Path) -> None:
    """(Re)write the demo shop: a customers table of SHOP_CUSTOMERS generated rows."""
    generator = random.Random(RANDOM_SEED)
    rows = []
    for number in range(1, SHOP_CUSTOMERS + 1):
        country = generator.choice(list(COUNTRY_WEIGHTS))
        first = generator.choice(FIRST_NAMES[country])
        last = generator.choice(LAST_NAMES[country])
        email = f"{first}.{last}{number}@shop.example".lower().translate(ASCII_NAMES)
        rows.append(
            (
                f"S{number:04d}",
                email,
                first,
                last,
                country,
                round(generator.uniform(0, 3000), 2),
                generator.random() < 0.6,
                f"2025-{generator.randint(1, 12):02d}-{generator.randint(1, 28):02d}",
            )
        )
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(
            "DROP TABLE IF EXISTS customers;"
            "CREATE TABLE customers (customer_id TEXT PRIMARY KEY, email TEXT, first_name TEXT,"
            " last_name TEXT, country TEXT, total_spent REAL, newsletter BOOLEAN,"
            " first_order DATE);"
        )
        connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        connection.commit()
