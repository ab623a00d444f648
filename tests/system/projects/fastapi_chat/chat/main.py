"""A FastAPI sample: HTTP, a websocket echo, and which worker answered (system tests)."""
import os

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

app = FastAPI()


@app.get("/")
def hello():
    return {"hello": "chat", "release": os.environ.get("PWS_RELEASE", ""),
            "cwd": os.getcwd()}


@app.get("/pid")
async def pid():
    return {"pid": os.getpid()}


@app.post("/echo")
async def echo_post(request: Request):
    return {"echo": (await request.body()).decode(), "pid": os.getpid()}


@app.websocket("/ws")
async def echo(ws: WebSocket):
    await ws.accept()
    await ws.send_text(f"pid {os.getpid()}")
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        pass
