"""Puts the real OpenStreetMap extract of Monaco (and the French communes
around it) that ships in the source distribution of `osrm-bindings` on PyPI
(`test/data/monaco.osm.pbf`) at the path given, downloading the pinned
source distribution once (38 MB, SHA-256 checked). Not committed: fetched
from the package registry like every test tool.

usage: monaco_extract.py DESTINATION.osm.pbf
"""

import hashlib
import os
import re
import sys
import tarfile
import urllib.parse
import urllib.request

PACKAGE, VERSION = "osrm-bindings", "26.10.0"
SDIST_SHA256 = "2ca271af60e0628394f070e9a0f371bf18ff6c6e23769acc620d4aa7c07ed32c"
MEMBER = f"osrm_bindings-{VERSION}/test/data/monaco.osm.pbf"
EXTRACT_SHA256 = "36c0f0029ed838897322382611b67e8e5e7bcb07d5b17a25f3574dec54f1c23c"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    destination = sys.argv[1]
    if os.path.isfile(destination) and sha256(destination) == EXTRACT_SHA256:
        return
    # The registry's simple index (PEP 503), as pip reads it.
    index_url = f"https://pypi.org/simple/{PACKAGE}/"
    index = urllib.request.urlopen(index_url).read().decode()
    name = f"osrm_bindings-{VERSION}.tar.gz"
    links = [h for h in re.findall(r'href="([^"]+)"', index) if name in h]
    if not links:
        sys.exit(f"{index_url}: no {name}")
    url = urllib.parse.urljoin(index_url, links[0].split("#")[0])
    archive = destination + ".sdist.tar.gz"
    urllib.request.urlretrieve(url, archive)
    if sha256(archive) != SDIST_SHA256:
        os.remove(archive)
        sys.exit(f"{url}: not the pinned bytes")
    with tarfile.open(archive) as tar:
        data = tar.extractfile(MEMBER).read()
    os.remove(archive)
    if hashlib.sha256(data).hexdigest() != EXTRACT_SHA256:
        sys.exit(f"{MEMBER}: not the pinned extract")
    partial = destination + ".partial"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, destination)


if __name__ == "__main__":
    main()
