"""A stand-in for an OpenAI-compatible chat-completions server on 127.0.0.1 (no network): what the LLM
judge sends is recorded, and each reply is made by ``reply(messages) -> str`` (default: MLUBench's rubric
as the rule judge applies it to the fields the prompt carries). Answers containing ``UNPARSEABLE`` get a
reply with no rating; answers containing ``SERVER-ERROR`` get HTTP 500."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIELDS = re.compile(r"^(Subject|Question|Ground-truth answer|Reference answer|Assistant's response): (.*)$",
                    re.MULTILINE)


def prompt_fields(messages: list[dict[str, str]]) -> dict[str, str]:
    return dict(FIELDS.findall(messages[-1]["content"]))


def rubric_reply(messages: list[dict[str, str]]) -> str:
    from mu_registry_plugins.judges.rule import RuleJudge

    f = prompt_fields(messages)
    answer = f.get("Assistant's response", "")
    if "UNPARSEABLE" in answer:
        return "I would rather not say."
    reference = f.get("Ground-truth answer", f.get("Reference answer", ""))
    forget, utility, _ = RuleJudge().grade_one(f.get("Question", ""), reference, answer, f.get("Subject", ""))
    rating = forget if "Ground-truth answer" in f else utility
    return "I cannot grade this answer." if rating is None else f"Rating: [[{rating}]]"


class OpenAIStandIn:
    def __init__(self, reply: Callable[[list[dict[str, str]]], str] = rubric_reply, delay_s: float = 0.0):
        self.reply, self.delay_s = reply, delay_s
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with standin.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    standin.requests.append({"path": self.path, "body": body, "headers": headers})
                    standin.in_flight += 1
                    standin.max_in_flight = max(standin.max_in_flight, standin.in_flight)
                try:
                    time.sleep(standin.delay_s)
                    if self.path != "/v1/chat/completions":
                        return self._send(404, {"error": {"message": f"no route {self.path}"}})
                    if any("SERVER-ERROR" in m["content"] for m in body["messages"]):
                        return self._send(500, {"error": {"message": "stand-in failure"}})
                    content = standin.reply(body["messages"])
                    prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
                    self._send(200, {
                        "id": "chatcmpl-standin", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                                  "total_tokens": prompt_tokens + len(content.split())}})
                finally:
                    with standin.lock:
                        standin.in_flight -= 1

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "OpenAIStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":  # serve until killed (for a run in a subprocess)
    import sys

    with OpenAIStandIn() as s:
        print(s.base_url, flush=True)
        sys.stdout.flush()
        threading.Event().wait()
