#!/usr/bin/env python3
"""Layering rules of the relay, checked on the sources (transitive includes of our own headers).

1. Exactly one translation unit of the relay includes both CAF and Asio/Beast headers:
   gateway/ws_bridge.cpp, the bridge between a socket and its actor.
2. Beast/Asio stays in few TUs (compile time): only the files listed in BEAST_TUS.
3. actors/ reaches sockets only through the interfaces gateway/socket.hpp and gateway/ws_link.hpp.
4. settings/, protocol/ and persistence/ include nothing from actors/, gateway/ or node/
   (no arrow back up).
5. Every JSON parse goes through protocol/untrusted_json.cpp (nesting bounded before parsing,
   nothing thrown): no other relay file calls `json::parse(`. The same holds for desktop-bridge/
   (the relay is outside the bridge's trust boundary; agent output gets a deeper, still bounded limit).

Usage: check_includes.py <repo root>. Exit status 1 with one line per violation.
"""
import os
import re
import sys

RELAY_DIRS = ["protocol", "persistence", "settings", "actors", "gateway", "node"]
BRIDGE = "gateway/ws_bridge.cpp"
BEAST_TUS = {"gateway/beast_impl.cpp", "gateway/listener.cpp", BRIDGE}
ACTOR_SOCKET_API = {"gateway/socket.hpp", "gateway/ws_link.hpp"}
LOWER = ["settings", "protocol", "persistence"]
UPPER = ("actors/", "gateway/", "node/")

PARSE_OWNER = "protocol/untrusted_json.cpp"
RAW_PARSE = re.compile(r"json::parse\s*\(")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def includes(root, rel, cache):
    """(project headers, external headers) reachable from `rel`, transitively."""
    if rel in cache:
        return cache[rel]
    cache[rel] = (set(), set())  # cycle guard
    ours, ext = set(), set()
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        text = f.read()
    for _, name in INCLUDE.findall(text):
        candidates = [name, os.path.normpath(os.path.join(os.path.dirname(rel), name))]
        hit = next((c for c in candidates if os.path.isfile(os.path.join(root, c))), None)
        if hit is None:
            ext.add(name)
            continue
        ours.add(hit)
        o, e = includes(root, hit, cache)
        ours |= o
        ext |= e
    cache[rel] = (ours, ext)
    return cache[rel]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache, problems, both, beast = {}, [], [], []
    files = []
    for d in RELAY_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            for n in sorted(names):
                if n.endswith((".cpp", ".hpp")):
                    files.append(os.path.relpath(os.path.join(dirpath, n), root))
    if not any(f == BRIDGE for f in files):
        problems.append(f"{BRIDGE} is missing")
    for rel in sorted(files):
        ours, ext = includes(root, rel, cache)
        has_caf = any(e.startswith("caf/") for e in ext)
        has_beast = any(e.startswith(("boost/asio", "boost/beast")) for e in ext)
        if rel.endswith(".cpp"):
            if has_caf and has_beast:
                both.append(rel)
            if has_beast:
                beast.append(rel)
        if rel != PARSE_OWNER:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                if RAW_PARSE.search(f.read()):
                    problems.append(f"{rel}: parses JSON directly; use proto::parse_untrusted ({PARSE_OWNER})")
        top = rel.split("/")[0]
        if top == "actors":
            for h in sorted(ours):
                if h.startswith("gateway/") and h not in ACTOR_SOCKET_API:
                    problems.append(f"{rel}: actors/ may include only {sorted(ACTOR_SOCKET_API)} from gateway/, not {h}")
                if h.startswith("node/"):
                    problems.append(f"{rel}: actors/ must not include {h}")
            if has_beast:
                problems.append(f"{rel}: actors/ must not include Asio/Beast")
        if top in LOWER:
            for h in sorted(ours):
                if h.startswith(UPPER):
                    problems.append(f"{rel}: {top}/ is below actors/gateway/node and must not include {h}")
    for dirpath, _, names in os.walk(os.path.join(root, "desktop-bridge")):
        for n in sorted(names):
            if n.endswith((".cpp", ".hpp")):
                rel = os.path.relpath(os.path.join(dirpath, n), root)
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    if RAW_PARSE.search(f.read()):
                        problems.append(f"{rel}: parses JSON directly; use proto::parse_untrusted ({PARSE_OWNER})")
    if both != [BRIDGE]:
        problems.append(f"translation units including both CAF and Asio/Beast: {both} (expected exactly ['{BRIDGE}'])")
    for tu in beast:
        if tu not in BEAST_TUS:
            problems.append(f"{tu}: includes Asio/Beast but is not one of {sorted(BEAST_TUS)}")
    for p in problems:
        print(p)
    if not problems:
        print(f"ok: {len(files)} relay files; CAF+Beast only in {both}; Beast TUs {sorted(beast)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
