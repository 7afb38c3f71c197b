"""An HTTP emulator of the few Jenkins REST endpoints python-jenkins and jenkins-kernel call.

What it is: a small ``ThreadingHTTPServer`` on 127.0.0.1 (a free port, a daemon thread) that
answers like a Jenkins controller on the endpoints below, with the status codes and headers
Jenkins documents: basic auth with a user's API token (401 for a wrong token, 403 for
anonymous), a CSRF crumb that every POST must carry, createItem answering 400 for a name
that exists, buildWithParameters answering 201 with the queue item's Location, queue items
that get an ``executable`` (or are ``cancelled``), and ``logText/progressiveText`` with
``X-Text-Size`` and ``X-More-Data``. Like Jenkins it re-serializes a posted config.xml
(``plugin`` attributes, ``<actions/>``, ``<disabled>``) and, when a Declarative Pipeline
runs, records Declarative's actions in the job's config.

What it is not: Jenkins. It runs no Pipeline script; a build is a script of console lines
and a final result, set by the test with :meth:`JenkinsEmulator.script_next_build`. Each
``progressiveText`` request advances the build by one line, so a test never sleeps to
synchronise. No folders, views, nodes, plugins or permissions beyond "the user may do all".

    GET  /  and  /api/json                 X-Jenkins version header; jobs list
    GET  /crumbIssuer/api/json             the crumb and its request field
    GET  /me/api/json                      the authenticated user
    POST /createItem?name=NAME             body: config.xml; 400 if the job exists
    GET  /job/NAME/config.xml              the stored (re-serialized) config.xml
    POST /job/NAME/config.xml              update the job's config
    GET  /job/NAME/api/json                job info with parameterDefinitions; 404 if unknown
    POST /job/NAME/build | buildWithParameters   201 + Location: /queue/item/N/
    GET  /queue/item/N/api/json            waiting (why), then executable {number, url}
    POST /queue/cancelItem?id=N            cancel a waiting item
    GET  /job/NAME/N/api/json              building, result (and /job/NAME/N/, the build page)
    GET  /job/NAME/N/logText/progressiveText?start=B
    POST /job/NAME/N/stop                  abort the build
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["HOLD", "EmulatedBuild", "JenkinsEmulator"]

VERSION = "2.479.3"
HOLD = object()  # in a build script: the build waits here until it is stopped
_WORKFLOW_JOB = "workflow-job@1498.v33a_0c6f3a_4b_4"
_WORKFLOW_CPS = "workflow-cps@4009.v0089238351a_9"
_DECLARATIVE = "pipeline-model-definition@2.2221.vc657003fb_d93"


@dataclass
class EmulatedBuild:
    job: str
    number: int
    parameters: dict[str, str]
    steps: list[Any]  # console lines (str) and HOLD
    result: str
    log: bytearray = field(default_factory=bytearray)
    building: bool = True
    final: str | None = None
    aborted_by: str | None = None

    def advance(self) -> None:
        """Run one step: print a line, or end with the scripted result."""
        if not self.building or (self.steps and self.steps[0] is HOLD):
            return
        if self.steps:
            self.log += (self.steps.pop(0) + "\n").encode("utf-8")
        if not self.steps:
            self.finish(self.result)

    def finish(self, result: str) -> None:
        self.log += f"Finished: {result}\n".encode()
        self.final, self.building = result, False


@dataclass
class _Script:
    lines: list[Any]
    result: str
    cancelled_in_queue: bool = False


@dataclass
class _QueueItem:
    id: int
    job: str
    parameters: dict[str, str]
    polls: int = 0
    cancelled: bool = False
    build: EmulatedBuild | None = None


class JenkinsEmulator:
    """Start with ``with JenkinsEmulator() as jenkins:``; ``jenkins.url``, ``.user``, ``.api_token``."""

    def __init__(self, user: str = "ci-bot", api_token: str | None = None) -> None:
        self.user = user
        self.api_token = api_token or secrets.token_hex(17)
        self.crumb = secrets.token_hex(16)
        self.lock = threading.Lock()
        self.jobs: dict[str, str] = {}  # name -> config.xml as Jenkins would store it
        self.builds: dict[str, list[EmulatedBuild]] = {}
        self.queue: dict[int, _QueueItem] = {}
        self.scripts: dict[str, list[_Script]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every authenticated request
        self._next_queue_id = 41
        handler = type("Handler", (_Handler,), {"emulator": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="jenkins-emulator", daemon=True
        )

    def __enter__(self) -> JenkinsEmulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- what tests script and inspect ------------------------------------------------

    def script_next_build(
        self, job: str, lines: list[Any], result: str = "SUCCESS", cancelled_in_queue: bool = False
    ) -> None:
        """The next build of ``job`` prints ``lines`` (HOLD waits for a stop) and ends ``result``."""
        with self.lock:
            self.scripts.setdefault(job, []).append(_Script(list(lines), result, cancelled_in_queue))

    def posts(self) -> list[str]:
        return [path for method, path in self.requests if method == "POST"]

    def config(self, job: str) -> ET.Element:
        return ET.fromstring(self.jobs[job].encode())

    # -- Jenkins' behaviour -----------------------------------------------------------

    def store_config(self, name: str, body: bytes) -> None:
        """Keep config.xml the way Jenkins writes it back (XStream): versions, actions, disabled."""
        root = ET.fromstring(body)
        if root.tag == "flow-definition":
            root.set("plugin", _WORKFLOW_JOB)
            definition = root.find("definition")
            if definition is not None:
                definition.set("plugin", _WORKFLOW_CPS)
        if root.find("actions") is None:
            root.insert(0, ET.Element("actions"))
        if root.find("disabled") is None:
            ET.SubElement(root, "disabled").text = "false"
        ET.indent(root, space="  ")
        self.jobs[name] = "<?xml version='1.1' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode")

    def record_declarative_run(self, name: str) -> None:
        """What Declarative Pipeline does on a run: add its actions to the job's config."""
        root = ET.fromstring(self.jobs[name].encode())
        script = root.findtext("definition/script") or ""
        actions = root.find("actions")
        if actions is None or "pipeline {" not in script or len(actions):
            return
        prefix = "org.jenkinsci.plugins.pipeline.modeldefinition.actions."
        ET.SubElement(actions, prefix + "DeclarativeJobAction", plugin=_DECLARATIVE)
        tracker = ET.SubElement(actions, prefix + "DeclarativeJobPropertyTrackerAction", plugin=_DECLARATIVE)
        for tag in ("jobProperties", "triggers", "parameters", "options"):
            ET.SubElement(tracker, tag)
        ET.indent(root, space="  ")
        self.jobs[name] = "<?xml version='1.1' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode")

    def parameter_definitions(self, name: str) -> list[dict[str, Any]]:
        root = ET.fromstring(self.jobs[name].encode())
        definitions = []
        for d in root.findall("properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions/*"):
            kind = d.tag.rsplit(".", 1)[-1]
            default: Any = d.findtext("defaultValue", "")
            if kind == "BooleanParameterDefinition":
                default = default == "true"
            definitions.append(
                {
                    "_class": d.tag,
                    "defaultParameterValue": {"name": d.findtext("name"), "value": default},
                    "description": d.findtext("description"),
                    "name": d.findtext("name"),
                    "type": kind,
                }
            )
        return definitions

    def enqueue(self, job: str, parameters: dict[str, str]) -> _QueueItem:
        item = _QueueItem(self._next_queue_id, job, parameters)
        self._next_queue_id += 1
        self.queue[item.id] = item
        return item

    def leave_queue(self, item: _QueueItem) -> None:
        """The second look at a queue item finds it running (or cancelled, when scripted so)."""
        item.polls += 1
        if item.polls < 2 or item.cancelled or item.build:
            return
        scripts = self.scripts.get(item.job) or [_Script(["(no script for this build)"], "SUCCESS")]
        script = scripts.pop(0)
        if script.cancelled_in_queue:
            item.cancelled = True
            return
        builds = self.builds.setdefault(item.job, [])
        build = EmulatedBuild(item.job, len(builds) + 1, item.parameters, script.lines, script.result)
        build.log += f"Started by user {self.user}\n".encode()
        builds.append(build)
        item.build = build
        self.record_declarative_run(item.job)


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class _Handler(BaseHTTPRequestHandler):
    emulator: JenkinsEmulator
    server_version = "Jetty(12.0.16)"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------

    def send(self, status: int, body: bytes | str | dict[str, Any] = b"", **headers: str) -> None:
        if isinstance(body, dict):
            body, headers = json.dumps(body).encode(), {"Content-Type": "application/json;charset=utf-8", **headers}
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("X-Jenkins", VERSION)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def authenticated(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            self.send(403, "Authentication required", X_You_Are_Authenticated_As="anonymous")
            return False
        user, _, token = base64.b64decode(header[6:]).decode("utf-8", "replace").partition(":")
        if (user, token) != (self.emulator.user, self.emulator.api_token):
            self.send(401, f"Invalid password/token for user: {user}", WWW_Authenticate='Basic realm="Jenkins"')
            return False
        return True

    def route(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.segments = [unquote(s) for s in parts.path.strip("/").split("/") if s]
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        if not self.authenticated():
            return
        with self.emulator.lock:
            self.emulator.requests.append((method, parts.path))
            if method == "POST" and self.headers.get("Jenkins-Crumb") != self.emulator.crumb:
                return self.send(403, "No valid crumb was included in the request")
            handler = getattr(self, f"{method.lower()}_{self.kind()}", None)
            if handler is None:
                return self.send(404, "Not Found")
            handler()

    def kind(self) -> str:
        s = self.segments
        if s in ([], ["api", "json"]):
            return "root"
        if s in (["crumbIssuer", "api", "json"], ["me", "api", "json"], ["createItem"], ["queue", "cancelItem"]):
            return {"crumbIssuer": "crumb", "me": "me", "createItem": "create", "queue": "cancel"}[s[0]]
        if len(s) == 5 and s[:2] == ["queue", "item"] and s[3:] == ["api", "json"]:
            return "queue_item"
        if len(s) < 3 or s[0] != "job":
            return "unknown"
        if s[1] not in self.emulator.jobs:
            return "unknown"
        tail = s[2:]
        if tail == ["config.xml"]:
            return "config"
        if tail == ["api", "json"]:
            return "job"
        if tail in (["build"], ["buildWithParameters"]):
            return "build"
        if tail[0].isdigit() and self.find_build() is not None:
            endpoints = {(): "build_page", ("api", "json"): "build_info", ("logText", "progressiveText"): "log"}
            return {**endpoints, ("stop",): "stop"}.get(tuple(tail[1:]), "unknown")
        return "unknown"

    def find_build(self) -> EmulatedBuild | None:
        builds = self.emulator.builds.get(self.segments[1], [])
        number = int(self.segments[2])
        return builds[number - 1] if 0 < number <= len(builds) else None

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    # -- endpoints ---------------------------------------------------------------------

    def get_root(self) -> None:
        jobs = [{"name": n, "url": f"{self.emulator.url}job/{n}/"} for n in self.emulator.jobs]
        self.send(200, {"_class": "hudson.model.Hudson", "mode": "NORMAL", "jobs": jobs})

    def get_crumb(self) -> None:
        crumb = {"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumbRequestField": "Jenkins-Crumb"}
        self.send(200, {**crumb, "crumb": self.emulator.crumb})

    def get_me(self) -> None:
        self.send(200, {"_class": "hudson.model.User", "id": self.emulator.user, "fullName": self.emulator.user})

    def post_create(self) -> None:
        name = self.query.get("name", "")
        if name in self.emulator.jobs:
            return self.send(400, "Error", X_Error=f"A job already exists with the name '{name}'")
        try:
            self.emulator.store_config(name, self.body)
        except ET.ParseError as exc:
            return self.send(400, "Error", X_Error=f"Failed to parse config.xml: {exc}")
        self.send(200)

    def get_config(self) -> None:
        self.send(200, self.emulator.jobs[self.segments[1]], Content_Type="application/xml")

    def post_config(self) -> None:
        try:
            self.emulator.store_config(self.segments[1], self.body)
        except ET.ParseError as exc:
            return self.send(500, f"Failed to parse config.xml: {exc}")
        self.send(200)

    def get_job(self) -> None:
        name = self.segments[1]
        builds = self.emulator.builds.get(name, [])
        definitions = self.emulator.parameter_definitions(name)
        prop = [{"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": definitions}]
        info = {
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
            "name": name,
            "fullName": name,
            "url": f"{self.emulator.url}job/{name}/",
            "buildable": True,
            "builds": [{"number": b.number, "url": f"{self.emulator.url}job/{name}/{b.number}/"} for b in builds],
            "nextBuildNumber": len(builds) + 1,
            "property": prop if definitions else [],
        }
        self.send(200, info)

    def post_build(self) -> None:
        name, endpoint = self.segments[1], self.segments[2]
        parameterized = bool(self.emulator.parameter_definitions(name))
        if parameterized != (endpoint == "buildWithParameters"):
            return self.send(400, f"{name} is {'' if parameterized else 'not '}parameterized: use the other endpoint")
        given = {k: v for k, v in self.query.items() if k not in ("delay", "token")}
        values = {
            d["name"]: _as_text(d["defaultParameterValue"]["value"]) for d in self.emulator.parameter_definitions(name)
        }
        item = self.emulator.enqueue(name, {**values, **given})
        self.send(201, Location=f"{self.emulator.url}queue/item/{item.id}/")

    def get_queue_item(self) -> None:
        item = self.emulator.queue.get(int(self.segments[2]))
        if item is None:
            return self.send(404, "Not Found")
        self.emulator.leave_queue(item)
        body: dict[str, Any] = {"id": item.id, "task": {"name": item.job}, "cancelled": item.cancelled}
        if item.build is not None:
            url = f"{self.emulator.url}job/{item.job}/{item.build.number}/"
            body |= {"_class": "hudson.model.Queue$LeftItem", "executable": {"number": item.build.number, "url": url}}
        elif item.cancelled:
            body |= {"_class": "hudson.model.Queue$LeftItem", "executable": None}
        else:
            body |= {"_class": "hudson.model.Queue$WaitingItem", "why": "Waiting for next available executor"}
        self.send(200, body)

    def post_cancel(self) -> None:
        item = self.emulator.queue.get(int(self.query.get("id", "0") or 0))
        if item is not None and item.build is None:
            item.cancelled = True
        self.send(204)

    def get_build_page(self) -> None:
        build = self.find_build()
        assert build is not None
        self.send(200, f"<html><title>{build.job} #{build.number}</title></html>", Content_Type="text/html")

    def get_build_info(self) -> None:
        build = self.find_build()
        assert build is not None
        self.send(
            200,
            {
                "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                "number": build.number,
                "building": build.building,
                "result": build.final,
                "fullDisplayName": f"{build.job} #{build.number}",
                "url": f"{self.emulator.url}job/{build.job}/{build.number}/",
                "actions": [
                    {
                        "_class": "hudson.model.ParametersAction",
                        "parameters": [{"name": k, "value": v} for k, v in build.parameters.items()],
                    }
                ],
            },
        )

    def get_log(self) -> None:
        build = self.find_build()
        assert build is not None
        build.advance()
        start = int(self.query.get("start") or 0)
        headers = {"Content_Type": "text/plain;charset=UTF-8", "X_Text_Size": str(len(build.log))}
        if build.building:
            headers["X_More_Data"] = "true"
        self.send(200, bytes(build.log[start:]), **headers)

    def post_stop(self) -> None:
        build = self.find_build()
        assert build is not None
        if build.building:
            build.steps.clear()
            build.aborted_by = self.emulator.user
            build.log += f"Aborted by {self.emulator.user}\n".encode()
            build.finish("ABORTED")
        self.send(302, Location=f"{self.emulator.url}job/{build.job}/{build.number}/")
