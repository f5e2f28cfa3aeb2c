"""Where snapshot and record data live: a local folder (the embedded default, `<home>/data`) or
an object store, chosen by one setting, ENTRA_PIPELINE_DATA:

    ENTRA_PIPELINE_DATA=abfs://container/prefix     Azure Blob / ADLS Gen2 (pip install 'entra-pipeline[azure]')
    ENTRA_PIPELINE_DATA=s3://bucket/prefix          S3 and S3-compatible stores ('entra-pipeline[s3]')
    ENTRA_PIPELINE_DATA=gs://bucket/prefix          Google Cloud Storage ('entra-pipeline[gcs]')
    ENTRA_PIPELINE_DATA=/srv/entra/data             a local folder

An object store is reached through fsspec (adlfs, s3fs, gcsfs), each library reading its own
standard credentials from the environment (AZURE_STORAGE_CONNECTION_STRING, or
AZURE_STORAGE_ACCOUNT_NAME with a key, a SAS token or the workload's identity; AWS_*; Google's
application default credentials), so workers need nothing but configuration. TLS is verified
against the system's trust store, or the bundle SSL_CERT_FILE names.

Both kinds write a whole object or nothing: a file is written to a temporary file first
(owner-only, on the worker's TMPDIR for an object store) and then renamed into place or
uploaded in one call, so no reader ever sees part of one. Whether a file counts is the store's
commit (files.py), never its presence.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from .. import redact
from .database import StoreError, owner_only_folder

DATA_ENV = "ENTRA_PIPELINE_DATA"
# the object stores' standard secret variables: masked in every text, like the client secret
SECRET_ENV = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
EXTRAS = {"abfs": "azure", "abfss": "azure", "az": "azure", "s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


class DataUnavailable(StoreError):
    """The object store could not be reached or refused a request: nothing the run wrote is
    committed, and the next run resumes from the last commit."""


class Storage(Protocol):
    url: str

    def describe(self, key: str) -> str: ...
    def writer(self, key: str) -> AbstractContextManager[BinaryIO]: ...  # whole, or nothing
    def reader(self, key: str) -> AbstractContextManager[str | BinaryIO]: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, prefix: str) -> list[str]: ...
    def remove(self, keys: list[str]) -> None: ...
    def remove_tree(self, prefix: str) -> None: ...


def data_url(home: Path) -> str:
    return os.environ.get(DATA_ENV) or str(home / "data")


def open_storage(url: str) -> Storage:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("", "file"):
        return LocalStorage(Path(url.split("://", 1)[-1]))
    return ObjectStorage(url, scheme)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root, self.url = root, str(root)

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def path(self, key: str) -> Path:
        return self.root / key

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        path = self.root / key
        owner_only_folder(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextmanager
    def reader(self, key: str) -> Iterator[str]:
        # the path itself: pyarrow reads (and memory-maps) a local file natively
        yield str(self.root / key)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return [f"{prefix}/{path.name}" for path in folder.iterdir()]

    def remove(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)

    def remove_tree(self, prefix: str) -> None:
        shutil.rmtree(self.root / prefix, ignore_errors=True)


class ObjectStorage:
    """An fsspec filesystem under a root prefix; every failure of the store becomes one
    `DataUnavailable` naming the object, the store's answer and what to check."""

    def __init__(self, url: str, scheme: str) -> None:
        import fsspec

        for name in SECRET_ENV:
            redact.remember(os.environ.get(name))
        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except ImportError as error:
            extra = EXTRAS.get(scheme)
            remedy = f"pip install 'entra-pipeline[{extra}]'" if extra else "use abfs://, s3://, gs:// or a local path"
            raise StoreError(
                f"{DATA_ENV}={url}: the {scheme}:// object store needs a library that is not "
                f"installed ({error}). Remedy: {remedy}"
            ) from None
        except ValueError as error:
            raise StoreError(
                f"{DATA_ENV}={url} is not a storage location fsspec knows ({error}). Remedy: use "
                "abfs://container/prefix, s3://bucket/prefix, gs://bucket/prefix or a local path"
            ) from None

    def describe(self, key: str) -> str:
        return f"{self.url}/{key}"

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _unavailable(self, doing: str, key: str, error: BaseException) -> DataUnavailable:
        answer = redact.mask(" ".join(str(error).split()))[:500] or type(error).__name__
        return DataUnavailable(
            f"the object store could not {doing} {self.describe(key)}: {answer}. Nothing was "
            "committed; the next run resumes from the last commit. Check that the store is "
            f"reachable from this worker and its credentials ({DATA_ENV} and the store's "
            "environment: docs/deploy.md)"
        )

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        # Spooled to the worker's own temporary folder, then one upload: an interrupted write
        # leaves no object, and memory holds no more than a Parquet writer's buffers.
        with tempfile.NamedTemporaryFile(prefix="entra-", suffix=".parquet") as spool:
            yield spool  # type: ignore[misc]
            spool.flush()
            try:
                self.fs.put_file(spool.name, self._path(key))
            except Exception as error:
                raise self._unavailable("write", key, error) from None

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        try:
            handle = self.fs.open(self._path(key), "rb")
        except FileNotFoundError:
            raise
        except Exception as error:
            raise self._unavailable("read", key, error) from None
        try:
            yield handle
        except OSError as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise self._unavailable("read", key, error) from None
        finally:
            handle.close()

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.exists(self._path(key)))
        except Exception as error:
            raise self._unavailable("look up", key, error) from None

    def keys(self, prefix: str) -> list[str]:
        try:
            found = self.fs.find(self._path(prefix))
        except FileNotFoundError:
            return []
        except Exception as error:
            raise self._unavailable("list", prefix, error) from None
        root = self.root.rstrip("/") + "/"
        return [path[len(root) :] for path in found if path.startswith(root)]

    def remove(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            self.fs.rm([self._path(key) for key in keys])
        except FileNotFoundError:
            pass
        except Exception as error:
            raise self._unavailable("remove", keys[0], error) from None

    def remove_tree(self, prefix: str) -> None:
        self.remove(self.keys(prefix))
