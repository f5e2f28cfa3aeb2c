"""Azurite, Microsoft's Azure Blob Storage emulator (npm package `azurite`, installed by `./dev
test` into tools/azurite), on a free loopback port over HTTPS with a CA of the test's own: the
object store the distributed tests put snapshot data in, reached through adlfs exactly as an
Azure storage account is (a connection string, TLS verified against SSL_CERT_FILE).

The account and key are Azurite's published development ones
(https://learn.microsoft.com/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from entra_pipeline.simulator.tls import generate

from .live import REPO, free_port, stop_group

BINARY = REPO / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def available() -> bool:
    return BINARY.exists()


class Azurite:
    def __init__(self, container: str = "entra") -> None:
        assert available(), f"Azurite is not installed at {BINARY}: run `./dev test` (it installs it with npm)"
        self.root = Path(tempfile.mkdtemp(prefix="entra-azurite-"))
        self.tls = generate(self.root / "tls")
        self.port, self.container = free_port(), container
        self.process: subprocess.Popen | None = None
        self.log = self.root / "azurite.log"

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return f"DefaultEndpointsProtocol=https;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={self.endpoint};"

    def start(self) -> Azurite:
        """Start (or start again, on the same port and blobs: an outage that ends)."""
        (self.root / "blobs").mkdir(exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BINARY),
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(self.port),
                    "--location",
                    str(self.root / "blobs"),
                    "--cert",
                    str(self.tls.server_cert),
                    "--key",
                    str(self.tls.server_key),
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--silent",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"Azurite exited: {self.log.read_text()[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"Azurite did not listen on {self.port} in 60 s: {self.log.read_text()[-2000:]}")
        self._create_container()
        return self

    def _create_container(self) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(
            self.connection_string, connection_verify=str(self.tls.ca_cert)
        )
        try:
            client.create_container(self.container)
        except ResourceExistsError:
            pass
        finally:
            client.close()

    def environment(self, prefix: str) -> dict[str, str]:
        """What every process that runs steps is given: the data location, the storage account's
        standard connection string, and the CA to verify the emulator's certificate with."""
        return {
            "ENTRA_PIPELINE_DATA": f"abfs://{self.container}/{prefix}",
            "AZURE_STORAGE_CONNECTION_STRING": self.connection_string,
            "SSL_CERT_FILE": str(self.tls.ca_cert),
        }

    def blobs(self, prefix: str = "") -> list[str]:
        """Names of the blobs under `prefix` in the container, read with Azure's own SDK."""
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(
            self.connection_string, connection_verify=str(self.tls.ca_cert)
        )
        try:
            return sorted(
                b.name for b in client.get_container_client(self.container).list_blobs(name_starts_with=prefix or None)
            )
        finally:
            client.close()

    def stop(self, keep: bool = True) -> None:
        """Stop the emulator (its blobs kept for a restart unless `keep` is False)."""
        stop_group(self.process)
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
