"""The yardstick of the HTTP mode: the cheapest FastAPI app there is, served exactly like Hangar.
Absolute requests per second drift with the machine; a ratio to this app does much less."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def constant() -> dict[str, str]:
    return {"status": "ok"}
