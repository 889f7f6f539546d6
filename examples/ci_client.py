#!/usr/bin/env python3
"""A scripted CI client for pgkeel's MCP server, written with the Python `mcp` SDK.

It starts `pgkeel serve` over stdio, lists the tools, asks `migration_status` what is pending,
applies everything up to the newest pending version with `apply_migration {version}`, and asks
`migration_status` again to check that nothing is left. One short line per step on stdout; exit
status 0 only when every step succeeded and nothing is pending at the end.

    pip install -r examples/requirements.txt
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/app \
        python examples/ci_client.py --config path/to/pgkeel.toml

Options (each also read from the environment):
    --pgkeel PATH        the pgkeel binary            (PGKEEL_BIN, default `pgkeel` on PATH)
    --config PATH        pgkeel.toml                  (PGKEEL_CONFIG)
    --migrations DIR     a migration folder, repeat   (PGKEEL_MIGRATIONS, separated by ':')
    --timeout SECONDS    limit for the whole run      (PGKEEL_CI_TIMEOUT, default 300)
    --check-only         report, apply nothing; fail if anything is pending
    -- ARGS...           further global arguments for `pgkeel`, e.g. -- --log-file off

The server gets DATABASE_URL and every PGKEEL_* variable of this process (the SDK passes only a
minimal environment to the child otherwise); --pass-env NAME adds another variable, e.g. the one
named by `url_env` in pgkeel.toml.

Exit status: 0 up to date; 1 a tool or protocol error, a timeout, or something still pending or
blocked; 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from importlib.metadata import version as installed_version
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

try:
    BaseExceptionGroup
except NameError:  # Python 3.10: anyio depends on the backport there
    from exceptiongroup import BaseExceptionGroup

# SDK 2.x takes timeouts in seconds (float); 1.x took a timedelta.
SDK_MAJOR = int(installed_version("mcp").split(".")[0])


def seconds(value: float) -> Any:
    return value if SDK_MAJOR >= 2 else timedelta(seconds=value)


# States `up` runs (pgkeel_engine::plan::State::is_runnable).
RUNNABLE = {"pending", "out_of_order", "interrupted", "rolled_back"}
# States that mean the database does not match the files.
NOT_DONE = RUNNABLE | {"modified", "missing", "failed", "running"}
REQUIRED_TOOLS = {"migration_status", "apply_migration"}


class Failure(Exception):
    """A step failed; the message is printed as the last line."""


def say(step: str, message: str) -> None:
    print(f"{step:<8} {message}", flush=True)


def field(obj: Any, *names: str) -> Any:
    """An attribute under its SDK 2.x name (snake_case) or its 1.x/wire name (camelCase)."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def text_of(result: Any) -> str:
    parts = [getattr(c, "text", "") for c in (field(result, "content") or [])]
    return " ".join(" ".join(p.split()) for p in parts if p)


def structured(result: Any) -> dict[str, Any] | None:
    """structuredContent when present, else the first text block if it is a JSON object."""
    value = field(result, "structured_content", "structuredContent")
    if isinstance(value, dict):
        return value
    try:
        value = json.loads(text_of(result))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def call(session: ClientSession, name: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Call a tool; a result with isError (or without structured content) is a Failure."""
    result = await session.call_tool(name, args, read_timeout_seconds=seconds(timeout))
    data = structured(result)
    if field(result, "is_error", "isError"):
        detail = (data or {}).get("error") or {}
        code = f" [{detail['code']}]" if isinstance(detail, dict) and detail.get("code") else ""
        raise Failure(f"{name} failed{code}: {text_of(result) or json.dumps(data)}")
    if data is None:
        raise Failure(f"{name} returned no structured content: {text_of(result)!r}")
    return data


async def status(session: ClientSession, timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """migration_status, following next_offset so every migration needing attention is listed."""
    entries: list[dict[str, Any]] = []
    offset = 0
    while True:
        data = await call(session, "migration_status", {"limit": 500, "offset": offset}, timeout)
        entries.extend(data.get("migrations") or [])
        offset = data.get("next_offset")
        if offset is None:
            return data, entries


def describe(data: dict[str, Any]) -> str:
    counts = data.get("counts") or {}
    shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing"
    latest = data.get("latest_applied") or "none"
    return f"{data.get('total', '?')} migration(s): {shown}; latest applied {latest}"


def blockers_line(data: dict[str, Any]) -> str:
    return "; ".join(
        f"{b.get('version')} {b.get('state')}: {b.get('message')} (fix: {b.get('fix')})"
        for b in data.get("blockers") or []
    )


async def run(opts: argparse.Namespace) -> None:
    args = ["serve"]
    if opts.config:
        args += ["--config", opts.config]
    for folder in opts.migrations:
        args += ["--migrations", folder]
    args += opts.pgkeel_args
    env = {k: v for k, v in os.environ.items() if k == "DATABASE_URL" or k.startswith("PGKEEL_")}
    for name in opts.pass_env:
        if name in os.environ:
            env[name] = os.environ[name]
    if not any(k in env for k in ("DATABASE_URL", "PGKEEL_DATABASE_URL", *opts.pass_env)) and not any(
        a.startswith("--database-url") for a in opts.pgkeel_args
    ):
        say("warning", "no DATABASE_URL in the environment; pgkeel will use its config or fail")

    server = StdioServerParameters(command=opts.pgkeel, args=args, env=env)
    say("start", " ".join([opts.pgkeel, *args]))
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=seconds(opts.timeout)) as session:
            init = await session.initialize()
            info = field(init, "server_info", "serverInfo")
            version = field(init, "protocol_version", "protocolVersion")
            say("init", f"{info.name} {info.version}, protocol {version}")

            tools = (await session.list_tools()).tools
            names = sorted(t.name for t in tools)
            say("tools", ", ".join(names))
            missing = REQUIRED_TOOLS - set(names)
            if missing and not opts.check_only:
                raise Failure(f"the server lacks {', '.join(sorted(missing))} (started with --read-only?)")

            data, entries = await status(session, opts.timeout)
            say("status", describe(data))
            if data.get("blockers"):
                raise Failure(f"blocked: {blockers_line(data)}")
            runnable = [e["version"] for e in entries if e.get("state") in RUNNABLE]
            if runnable and opts.check_only:
                raise Failure(f"{len(runnable)} migration(s) pending: {', '.join(runnable)}")
            if runnable:
                target = runnable[-1]  # listed in version order: the last is the newest
                out = await call(session, "apply_migration", {"version": target}, opts.timeout)
                applied = out.get("applied") or []
                say(
                    "apply",
                    f"{len(applied)} migration(s) up to {target} in {out.get('duration_ms', 0)} ms: "
                    + (", ".join(applied) or "none"),
                )
                if target not in applied:
                    raise Failure(f"apply_migration did not apply {target}")
                data, entries = await status(session, opts.timeout)
                say("status", describe(data))
            else:
                say("apply", "nothing pending")

            left = [f"{e['version']} {e['state']}" for e in entries if e.get("state") in NOT_DONE]
            if data.get("blockers"):
                raise Failure(f"blocked: {blockers_line(data)}")
            if left:
                raise Failure(f"still not applied: {', '.join(left)}")
            say("ok", f"up to date at {data.get('latest_applied') or 'nothing'}")


def parse(argv: list[str]) -> argparse.Namespace:
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pgkeel", default=os.environ.get("PGKEEL_BIN", "pgkeel"))
    p.add_argument("--config", default=os.environ.get("PGKEEL_CONFIG") or None)
    p.add_argument("--migrations", action="append", default=None)
    p.add_argument("--timeout", type=float, default=float(os.environ.get("PGKEEL_CI_TIMEOUT", "300")))
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--pass-env", action="append", default=[], metavar="NAME")
    opts = p.parse_args(argv)
    if opts.migrations is None:
        opts.migrations = [m for m in os.environ.get("PGKEEL_MIGRATIONS", "").split(":") if m]
    opts.pgkeel_args = extra
    return opts


async def run_with_deadline(opts: argparse.Namespace) -> None:
    try:
        with anyio.fail_after(opts.timeout):
            await run(opts)
    except TimeoutError:
        raise Failure(f"timed out after {opts.timeout:g} s") from None


def leaves(e: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups raised by the SDK's task groups."""
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in leaves(sub)]
    return [e]


def main() -> int:
    opts = parse(sys.argv[1:])
    try:
        anyio.run(run_with_deadline, opts)
    except KeyboardInterrupt:
        say("FAIL", "interrupted")
        return 1
    except BaseException as e:  # noqa: BLE001 - report every failure as one line and exit 1
        for leaf in leaves(e):
            if isinstance(leaf, Failure):
                say("FAIL", str(leaf))
            elif isinstance(leaf, SystemExit):
                raise leaf
            else:
                say("FAIL", f"{type(leaf).__name__}: {leaf}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
