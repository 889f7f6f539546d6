#!/usr/bin/env python3
"""The MCP `rollback` tool through a real client (the Python `mcp` SDK), both confirmation flows.

Run by scripts/mcp-clients after the demo migrations are applied (its newest migration has a
`-- pgkeel:down` section). Steps, each printed as PASS/FAIL:
  1. a client without elicitation asks for `rollback {last: 1}`: gets the plan and a token,
     nothing changes;
  2. an elicitation-capable client that declines: nothing changes;
  3. an elicitation-capable client that accepts: the migration is rolled back;
  4. `apply_migration {version}` applies it again;
  5. the token flow: plan, then `confirm_token` executes it; then re-apply.
With `--authored` instead of VERSION (run last: it leaves a rolled-back migration file behind),
an agent's own migration: `plan_migration {name, sql, down}`, then `apply_migration` with the
same arguments a clock tick later (same version and checksum; the result shows the down SQL a
rollback runs), then `rollback {last: 1}` with the token (the table is gone again).
Exit status 0 when every step passed.

    python scripts/mcp_rollback_check.py PGKEEL CONFIG VERSION
    python scripts/mcp_rollback_check.py PGKEEL CONFIG --authored
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

failures = 0


def check(name: str, ok: bool, detail: Any = "") -> None:
    global failures
    print(("PASS " if ok else "FAIL ") + name, flush=True)
    if not ok:
        failures += 1
        print("     | " + json.dumps(detail, default=str)[:1500], flush=True)


def structured(result: Any) -> dict[str, Any]:
    data = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    if isinstance(data, dict):
        return data
    for block in getattr(result, "content", []) or []:
        text = getattr(block, "text", None)
        if text:
            try:
                return json.loads(text)
            except ValueError:
                return {"text": text}
    return {}


def is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


class Answer:
    """An elicitation callback that answers with `action` and records what it was asked."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: Any) -> Any:
        self.asked.append(getattr(params, "message", ""))
        if self.action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=self.action)


async def session_run(pgkeel: str, config: str, steps: Any, elicitation: Any = None) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("PGKEEL_") or k in ("DATABASE_URL", "PATH", "HOME")}
    server = StdioServerParameters(command=pgkeel, args=["serve", "--config", config, "--log-file", "off"], env=env)
    async with stdio_client(server) as (read, write):
        kwargs = {"elicitation_callback": elicitation} if elicitation else {}
        async with ClientSession(read, write, **kwargs) as session:
            await session.initialize()
            await steps(session)


async def status_of(session: ClientSession, version: str) -> str:
    result = await session.call_tool("migration_status", {"include_applied": True})
    data = structured(result)
    for m in data.get("migrations", []):
        if m.get("version") == version:
            return m.get("state", "?")
    return "absent"


async def authored(session: ClientSession) -> None:
    args = {
        "name": "mcp_check_pets",
        "sql": "CREATE TABLE mcp_check_pets (id int PRIMARY KEY, name text);\nINSERT INTO mcp_check_pets VALUES (1, 'rex');",
        "down": "DROP TABLE mcp_check_pets;",
    }
    plan = structured(await session.call_tool("plan_migration", args))
    check("plan_migration {name, sql, down} plans a file with down SQL",
          bool(plan.get("version")) and plan.get("has_down") is True, plan)
    await anyio.sleep(1.1)
    r = await session.call_tool("apply_migration", args)
    d = structured(r)
    check("apply_migration writes the version and checksum the plan announced",
          not is_error(r) and d.get("version") == plan.get("version") and d.get("checksum") == plan.get("checksum"), d)
    rb = d.get("rollback") or {}
    check("... and says the rollback runs its down SQL",
          rb.get("possible") is True and rb.get("down_sql") == ["DROP TABLE mcp_check_pets;"], d)
    p = structured(await session.call_tool("rollback", {"last": 1}))
    check("rollback plans the agent's migration",
          p.get("outcome") == "planned" and [t.get("version") for t in p.get("targets", [])] == [plan.get("version")], p)
    r = await session.call_tool("rollback", {"last": 1, "confirm_token": p.get("token", "")})
    d = structured(r)
    check("confirm_token rolls it back", not is_error(r) and d.get("rolled_back") == [plan.get("version")], d)
    q = structured(await session.call_tool("execute_sql", {"sql": "SELECT to_regclass('mcp_check_pets') IS NULL AS gone"}))
    check("... and the table is gone", "true" in json.dumps(q.get("untrusted_rows")), q)


async def main(pgkeel: str, config: str, version: str) -> int:
    async def no_elicitation(session: ClientSession) -> None:
        before = await status_of(session, version)
        r = await session.call_tool("rollback", {"last": 1})
        d = structured(r)
        check("rollback without elicitation returns the plan and a token",
              not is_error(r) and d.get("outcome") == "planned" and bool(d.get("token"))
              and [t.get("version") for t in d.get("targets", [])] == [version], d)
        check("... and changes nothing", before == "applied" and await status_of(session, version) == "applied", before)

    decline = Answer("decline")

    async def declined(session: ClientSession) -> None:
        r = await session.call_tool("rollback", {"last": 1})
        d = structured(r)
        check("elicitation declined: nothing happens",
              not is_error(r) and d.get("outcome") == "declined" and len(decline.asked) == 1
              and await status_of(session, version) == "applied", d)

    accept = Answer("accept")

    async def accepted(session: ClientSession) -> None:
        r = await session.call_tool("rollback", {"last": 1})
        d = structured(r)
        check("elicitation accepted: rolled back",
              not is_error(r) and d.get("outcome") == "rolled_back" and d.get("rolled_back") == [version]
              and version in (accept.asked[0] if accept.asked else ""), d)
        check("... status says rolled_back", await status_of(session, version) == "rolled_back")
        r = await session.call_tool("apply_migration", {"version": version})
        check("apply_migration {version} applies it again",
              not is_error(r) and await status_of(session, version) == "applied", structured(r))

    async def token_flow(session: ClientSession) -> None:
        d = structured(await session.call_tool("rollback", {"last": 1}))
        r = await session.call_tool("rollback", {"last": 1, "confirm_token": "rb1.1.00"})
        check("a malformed/forged token is refused", is_error(r) and await status_of(session, version) == "applied",
              structured(r))
        r = await session.call_tool("rollback", {"last": 1, "confirm_token": d.get("token", "")})
        d2 = structured(r)
        check("confirm_token executes the plan", not is_error(r) and d2.get("outcome") == "rolled_back", d2)
        r = await session.call_tool("apply_migration", {"version": version})
        check("... and it applies again", not is_error(r) and await status_of(session, version) == "applied",
              structured(r))

    if version == "--authored":
        await session_run(pgkeel, config, authored)
        return 1 if failures else 0
    await session_run(pgkeel, config, no_elicitation)
    await session_run(pgkeel, config, declined, decline)
    await session_run(pgkeel, config, accepted, accept)
    await session_run(pgkeel, config, token_flow)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(anyio.run(main, *sys.argv[1:4]))
