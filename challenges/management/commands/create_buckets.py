"""python manage.py create_buckets — the object store's buckets, created if missing.

With ``PODIUM_STORAGE=s3`` Podium keeps uploads and hidden labels in two buckets
(``PODIUM_S3_UPLOADS_BUCKET``, ``PODIUM_S3_PRIVATE_BUCKET``). A cloud account usually has them
made by its operator; a store of your own (the compose file's SeaweedFS) starts empty, so this
command creates them. Idempotent: a bucket that exists is left as it is.
"""

from botocore.exceptions import ClientError
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError
from storages.backends.s3 import S3Storage

ALIASES = ("default", "private")


class Command(BaseCommand):
    help = "Create the object store's buckets (PODIUM_STORAGE=s3) that do not exist yet."

    def handle(self, *args, **options):
        stores = [storages[alias] for alias in ALIASES]
        if not all(isinstance(store, S3Storage) for store in stores):
            raise CommandError("the storage is not an object store (set PODIUM_STORAGE=s3)")
        for name in sorted({store.bucket_name for store in stores}):
            store = next(s for s in stores if s.bucket_name == name)
            client = store.connection.meta.client
            try:
                client.head_bucket(Bucket=name)
                self.stdout.write(f"bucket {name}: exists")
                continue
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                    raise CommandError(f"bucket {name}: {exc}") from None
            region = client.meta.region_name
            extra = ({"CreateBucketConfiguration": {"LocationConstraint": region}}
                     if region and region != "us-east-1" else {})
            client.create_bucket(Bucket=name, **extra)
            self.stdout.write(f"bucket {name}: created")
