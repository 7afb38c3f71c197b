"""``jenkins-kernel jenkins apply|build`` against the Jenkins emulator (tests/jenkins_emulator.py).

The CLI runs as users run it, in a subprocess, over real sockets; nothing of the HTTP layer
is mocked. Builds are scripted in the emulator and advance one console line per
progressiveText request, so no test sleeps to synchronise.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from jenkins_kernel.jenkins import (
    Connection,
    job_config_xml,
    load_jobs,
    normalised_config,
    parse_jobs,
    pipeline_script,
    resolve_connection,
)
from jenkins_kernel.jenkins_cli import jenkins as jenkins_group

from jenkins_emulator import HOLD, JenkinsEmulator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "jobs.yaml"
EXAMPLE_JOBS = {"train-nightly", "failing-demo", "bash-hello"}
CLI = [sys.executable, "-m", "jenkins_kernel", "jenkins"]
FAST = ["--poll-interval", "0.01"]

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def emulator():
    with JenkinsEmulator() as jenkins:
        yield jenkins


def cli_env(tmp_path: Path, emulator: JenkinsEmulator | None = None, **extra: str) -> dict[str, str | None]:
    """A user whose Jenkins is the emulator: no stray JENKINS_* variables, no config file of theirs."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("JENKINS_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    if emulator is not None:
        env |= {"JENKINS_URL": emulator.url, "JENKINS_USER_ID": emulator.user, "JENKINS_API_TOKEN": emulator.api_token}
    return env | extra


def process_env(env: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in {**os.environ, **env}.items() if v is not None}


def run(*args: str, env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """``jenkins-kernel jenkins ARGS`` in a subprocess, exactly as a shell runs it."""
    return subprocess.run([*CLI, *args], cwd=ROOT, env=process_env(env), capture_output=True, text=True, timeout=30)


def cli(*args: str, env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """The same command in this process (click's runner): the same output and exit code, faster."""
    result = CliRunner().invoke(jenkins_group, list(args), env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def applied(emulator: JenkinsEmulator, tmp_path: Path, jobs_yaml: Path = EXAMPLE, *extra: str):
    result = cli("apply", str(jobs_yaml), *extra, env=cli_env(tmp_path, emulator))
    assert result.returncode == 0, result.stderr
    return result


def actions(stdout: str) -> dict[str, str]:
    """``{"train-nightly": "created", ...}`` from apply's report."""
    found = re.findall(r"^(created|updated|unchanged|would be created|would be updated)\s+(\S+)$", stdout, re.M)
    return {name: action for action, name in found}


def edited_example(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "jobs.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def groovy_literals(script: str) -> list[str]:
    """The values of the single-quoted Groovy string literals in ``script``."""
    unescape = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t"}
    literals = re.findall(r"'((?:[^'\\\n]|\\.)*)'", script)
    return [re.sub(r"\\(.)", lambda m: unescape[m.group(1)], body) for body in literals]


# -- apply -------------------------------------------------------------------------------


def test_apply_creates_a_pipeline_job_for_each_job_of_the_example_file(emulator, tmp_path):
    result = run("apply", str(EXAMPLE), env=cli_env(tmp_path, emulator))
    assert result.returncode == 0, result.stderr
    assert actions(result.stdout) == dict.fromkeys(EXAMPLE_JOBS, "created")
    assert set(emulator.jobs) == EXAMPLE_JOBS
    assert "3 jobs: 3 created, 0 updated, 0 unchanged" in result.stdout


def test_a_second_apply_changes_nothing(emulator, tmp_path):
    applied(emulator, tmp_path)
    configs, posts = dict(emulator.jobs), len(emulator.posts())
    result = applied(emulator, tmp_path)
    assert actions(result.stdout) == dict.fromkeys(EXAMPLE_JOBS, "unchanged")
    assert emulator.jobs == configs
    assert len(emulator.posts()) == posts


def test_apply_after_a_build_changes_nothing_though_jenkins_added_declarative_actions(emulator, tmp_path):
    applied(emulator, tmp_path)
    emulator.script_next_build("failing-demo", ["boom"], "FAILURE")
    cli("build", "failing-demo", "--follow", *FAST, env=cli_env(tmp_path, emulator))
    assert emulator.config("failing-demo").find("actions/*") is not None
    assert actions(applied(emulator, tmp_path).stdout) == dict.fromkeys(EXAMPLE_JOBS, "unchanged")


def test_a_changed_parameter_default_updates_that_job_only(emulator, tmp_path):
    applied(emulator, tmp_path)
    result = applied(emulator, tmp_path, edited_example(tmp_path, "epochs: 200", "epochs: 500"))
    assert actions(result.stdout) == {
        "train-nightly": "updated",
        "failing-demo": "unchanged",
        "bash-hello": "unchanged",
    }
    assert "-          <defaultValue>200</defaultValue>" in result.stdout
    assert "+          <defaultValue>500</defaultValue>" in result.stdout
    epochs = emulator.config("train-nightly").find(".//hudson.model.StringParameterDefinition[name='epochs']")
    assert epochs.findtext("defaultValue") == "500"


def test_dry_run_shows_what_would_change_and_changes_nothing(emulator, tmp_path):
    result = applied(emulator, tmp_path, EXAMPLE, "--dry-run")
    assert actions(result.stdout) == dict.fromkeys(EXAMPLE_JOBS, "would be created")
    assert emulator.jobs == {} and emulator.posts() == []

    applied(emulator, tmp_path)
    configs, posts = dict(emulator.jobs), len(emulator.posts())
    edited = edited_example(tmp_path, "cron: H 2 * * *", "cron: H 4 * * 1-5")
    result = applied(emulator, tmp_path, edited, "--dry-run")
    assert actions(result.stdout)["train-nightly"] == "would be updated"
    assert "+          <spec>H 4 * * 1-5</spec>" in result.stdout
    assert "(dry run)" in result.stdout
    assert emulator.jobs == configs and len(emulator.posts()) == posts


def test_the_job_config_is_well_formed_xml_whose_script_calls_jupyter_notebook_with_the_declared_parameters(
    emulator, tmp_path
):
    applied(emulator, tmp_path)
    root = ET.fromstring(emulator.jobs["train-nightly"].encode())
    assert root.tag == "flow-definition"
    definition = root.find("definition")
    assert definition.get("class") == "org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition"
    assert definition.findtext("sandbox") == "true"
    assert root.findtext(".//hudson.triggers.TimerTrigger/spec") == "H 2 * * *"
    names = [d.findtext("name") for d in root.find(".//parameterDefinitions")]
    assert names == ["learning_rate", "epochs", "seed", "target_rmse", "run_name"]

    script = definition.findtext("script")
    step = script[script.index("jupyterNotebook(") :]
    assert "path: 'examples/train.ipynb'" in step and "kernel: 'python3'" in step
    # text, typed on the agent like -p: no Groovy conversion that fails on a non-number
    assert "notebookParameter(name: 'learning_rate', value: params.learning_rate),\n" in step
    assert "notebookParameter(name: 'epochs', value: params.epochs),\n" in step
    assert "toDouble" not in script and "toLong" not in script  # nothing that fails on a non-number
    assert "notebookParameter(name: 'run_name', value: params.run_name)\n" in step
    assert "timeout: 3600" in step and "cellTimeout: 300" in step
    assert "agent { label 'notebooks' }" in script
    assert "junit testResults: 'reports/**/junit.xml'" in script
    assert "archiveArtifacts artifacts: 'reports/**'" in script


def test_numbers_stay_text_in_jenkins_and_booleans_become_boolean_parameters():
    (job,) = parse_jobs({"jobs": {"j": {"notebook": "n.ipynb", "parameters": {"n": 3, "x": 1e-3, "on": True}}}})
    definitions = ET.fromstring(job_config_xml(job)).find(".//parameterDefinitions")
    assert [(d.tag.rsplit(".", 1)[1], d.findtext("defaultValue")) for d in definitions] == [
        ("StringParameterDefinition", "3"),
        ("StringParameterDefinition", "0.001"),
        ("BooleanParameterDefinition", "true"),
    ]
    assert "notebookParameter(name: 'on', value: params.on.toString())\n" in pipeline_script(job)


def test_yaml_values_reach_the_script_as_groovy_string_literals_and_the_xml_stays_well_formed():
    hostile = 'it\'s \\ ${env.SECRET} "q" ]]> <x>&amp;'
    spec = {
        "notebook": "nb/it's.ipynb",
        "description": hostile + "\nsecond line",
        "agent": "linux && gpu",
        "parameters": {"run_name": hostile},
        "git": {"url": "https://example.com/r'.git"},
    }
    (job,) = parse_jobs({"jobs": {"odd": spec}})
    root = ET.fromstring(job_config_xml(job).encode())
    assert root.findtext("description").startswith(hostile)
    script = root.findtext("definition/script")
    assert {"nb/it's.ipynb", "linux && gpu", "https://example.com/r'.git", "it's.ipynb"} <= set(groovy_literals(script))
    assert '"' not in script.replace("\\'", "")  # no double-quoted (interpolating) Groovy strings
    assert root.findtext(".//hudson.model.StringParameterDefinition/defaultValue") == hostile


def test_jobs_yaml_follows_the_yaml_1_2_core_schema_so_no_010_and_1e_3_mean_what_they_say(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("jobs:\n  j:\n    notebook: n.ipynb\n    parameters: {a: no, b: 010, c: 1e-3, d: '7'}\n")
    (job,) = load_jobs(path)
    assert [p.default for p in job.parameters] == ["no", 10, 0.001, "7"]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("jobs:\n  train:\n    notebook: t.ipynb\n    cronn: H 2 * * *\n", ["job 'train'", "'cronn'", "'cron'?"]),
        ("jobs:\n  train:\n    kernel: python3\n", ["job 'train'", "missing field 'notebook'"]),
        ("jobs:\n  train:\n    notebook: t.ipynb\n    timeout: soon\n", ["job 'train'", "field 'timeout'", "'soon'"]),
        (
            "jobs:\n  train:\n    notebook: t.ipynb\n    parameters:\n      epochs: [1, 2]\n",
            ["job 'train'", "parameter 'epochs'", "list"],
        ),
        ("jobs:\n  train:\n    notebook: t.ipynb\n    cron: every night\n", ["job 'train'", "field 'cron'"]),
        ("jobs:\n  a:\n    notebook: a.ipynb\n  a:\n    notebook: b.ipynb\n", ["jobs.yaml:4", "duplicate key 'a'"]),
        ("jobs:\n  train: {notebook: t.ipynb\n", ["jobs.yaml:", "not valid YAML"]),
    ],
    ids=["unknown-field", "missing-notebook", "bad-timeout", "list-default", "bad-cron", "duplicate-job", "syntax"],
)
def test_a_bad_jobs_file_exits_5_naming_the_job_and_the_field(tmp_path, yaml_text, expected):
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml_text)
    result = CliRunner().invoke(jenkins_group, ["apply", str(path), "--url", "http://127.0.0.1:9/"], env={})
    assert result.exit_code == 5, result.output
    assert result.stdout == ""
    for text in expected:
        assert text in result.stderr


def test_apply_refuses_to_turn_a_freestyle_job_into_a_pipeline(emulator, tmp_path):
    emulator.jobs["bash-hello"] = "<?xml version='1.1' encoding='UTF-8'?><project><builders/></project>"
    result = cli("apply", str(EXAMPLE), env=cli_env(tmp_path, emulator))
    assert result.returncode == 5
    assert "job 'bash-hello' exists" in result.stderr and "project job, not a Pipeline" in result.stderr


# -- build -------------------------------------------------------------------------------


def test_build_follow_streams_every_console_line_once_in_order_and_exits_0_on_success(emulator, tmp_path):
    applied(emulator, tmp_path)
    lines = [f"[jenkins-kernel] epoch {i}: rmse 0.{90 - i} → ok" for i in range(40)]
    emulator.script_next_build("train-nightly", lines, "SUCCESS")
    result = run(
        "build", "train-nightly", "-p", "epochs=300", "-p", "run_name=ci 7", "--follow", *FAST,
        env=cli_env(tmp_path, emulator),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Started by user ci-bot", *lines, "Finished: SUCCESS"]
    assert "train-nightly #1 finished: SUCCESS (exit 0)" in result.stderr
    build = emulator.builds["train-nightly"][0]
    assert build.parameters["epochs"] == "300" and build.parameters["run_name"] == "ci 7"
    assert build.parameters["learning_rate"] == "0.05"  # the default, for a parameter not given


@pytest.mark.parametrize(("result_name", "exit_code"), [("FAILURE", 1), ("UNSTABLE", 1), ("ABORTED", 4)])
def test_build_follow_exits_with_the_code_of_the_build_result(emulator, tmp_path, result_name, exit_code):
    applied(emulator, tmp_path)
    emulator.script_next_build("failing-demo", ["ZeroDivisionError: division by zero"], result_name)
    result = cli("build", "failing-demo", "-f", *FAST, env=cli_env(tmp_path, emulator))
    assert result.returncode == exit_code, result.stderr
    assert result.stdout.splitlines()[-2:] == ["ZeroDivisionError: division by zero", f"Finished: {result_name}"]


def test_interrupting_a_followed_build_aborts_it_and_exits_4(emulator, tmp_path):
    applied(emulator, tmp_path)
    emulator.script_next_build("bash-hello", ["hello world 1", HOLD, "never printed"], "SUCCESS")
    command = [*CLI, "build", "bash-hello", "--follow", *FAST]
    env = process_env(cli_env(tmp_path, emulator, PYTHONUNBUFFERED="1"))
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        seen = [p.stdout.readline(), p.stdout.readline()]  # printed while the build runs
        assert seen == ["Started by user ci-bot\n", "hello world 1\n"]
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=20)
    assert p.returncode == 4, err
    assert rest.splitlines() == ["Aborted by ci-bot", "Finished: ABORTED"]
    assert "/job/bash-hello/1/stop" in emulator.posts()


def test_a_build_cancelled_in_the_queue_exits_4(emulator, tmp_path):
    applied(emulator, tmp_path)
    emulator.script_next_build("failing-demo", [], cancelled_in_queue=True)
    result = cli("build", "failing-demo", "--follow", *FAST, env=cli_env(tmp_path, emulator))
    assert result.returncode == 4
    assert "waiting: Waiting for next available executor" in result.stderr
    assert "cancelled" in result.stderr and "failing-demo" not in emulator.builds


def test_build_without_follow_prints_the_queue_item_url_and_exits_0(emulator, tmp_path):
    applied(emulator, tmp_path)
    result = cli("build", "bash-hello", "-p", "count=5", env=cli_env(tmp_path, emulator))
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(re.escape(emulator.url) + r"queue/item/\d+/\n", result.stdout)
    (item,) = emulator.queue.values()
    assert item.parameters["count"] == "5" and item.parameters["greeting"] == "hello"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bash-hello", "-p", "colour=red"], "job 'bash-hello' has no parameter 'colour'"),
        (["bash-hello", "-p", "count"], "-p 'count': expected NAME=VALUE"),
        (["no-such-job"], "there is no job 'no-such-job'"),
    ],
    ids=["unknown-parameter", "no-equals-sign", "unknown-job"],
)
def test_build_rejects_what_jenkins_would_ignore_or_refuse_with_exit_5(emulator, tmp_path, args, message):
    applied(emulator, tmp_path)
    result = cli("build", *args, env=cli_env(tmp_path, emulator))
    assert result.returncode == 5
    assert message in result.stderr
    assert emulator.queue == {}


# -- connection --------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_controller_is_a_one_line_error(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/"
    env = cli_env(tmp_path, JENKINS_URL=url, JENKINS_USER_ID="u", JENKINS_API_TOKEN="t")
    for args in (["apply", str(EXAMPLE)], ["build", "train-nightly", "--follow"]):
        result = run(*args, env=env)
        assert result.returncode == 5
        assert result.stderr.splitlines() == [
            f"[jenkins-kernel] error: cannot reach Jenkins at {url}: Connection refused"
        ]


def test_wrong_credentials_are_a_one_line_error(emulator, tmp_path):
    env = cli_env(tmp_path, emulator, JENKINS_API_TOKEN="not-the-token")
    for args in (["apply", str(EXAMPLE)], ["build", "train-nightly"]):
        result = cli(*args, env=env)
        assert result.returncode == 5
        (line,) = result.stderr.splitlines()
        assert "refused the credentials (401)" in line
    assert emulator.jobs == {}


def test_the_connection_comes_from_a_config_file_when_no_flag_or_variable_gives_it(emulator, tmp_path):
    config = tmp_path / "config" / "jenkins-kernel" / "jenkins.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"url: {emulator.url}\nuser: {emulator.user}\napi_token: {emulator.api_token}\n")
    result = cli("apply", str(EXAMPLE), env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert set(emulator.jobs) == EXAMPLE_JOBS


def test_flags_win_over_variables_which_win_over_the_file(tmp_path):
    config = tmp_path / "jenkins.yaml"
    config.write_text("url: https://ci.example.com/\nuser: file-user\napi_token: file-token\n")
    env = {"JENKINS_URL": "https://env.example.com", "JENKINS_USER_ID": "env-user", "JENKINS_API_TOKEN": "env-t"}
    assert resolve_connection(config_file=config, env={}) == Connection(
        "https://ci.example.com/", "file-user", "file-token"
    )
    assert resolve_connection(config_file=config, env=env) == Connection(
        "https://env.example.com/", "env-user", "env-t"
    )
    assert resolve_connection("https://flag.example.com", "me", "tok", config, env) == Connection(
        "https://flag.example.com/", "me", "tok"
    )


def test_the_file_token_is_never_sent_to_another_controller(tmp_path):
    config = tmp_path / "jenkins.yaml"
    config.write_text("url: https://ci.example.com/\nuser: file-user\napi_token: file-token\n")
    assert resolve_connection("https://other.example.com", config_file=config, env={}) == Connection(
        "https://other.example.com/"
    )


def test_no_url_anywhere_is_exit_5_with_a_hint(tmp_path):
    result = cli("apply", str(EXAMPLE), env=cli_env(tmp_path))
    assert result.returncode == 5
    assert "no Jenkins URL given" in result.stderr and "JENKINS_URL" in result.stderr


def test_normalising_ignores_what_jenkins_adds_when_it_saves_a_config():
    (job,) = parse_jobs({"jobs": {"j": {"notebook": "n.ipynb", "parameters": {"a": 1}}}})
    with JenkinsEmulator() as emulator:
        emulator.store_config("j", job_config_xml(job).encode())
        emulator.record_declarative_run("j")
        saved = emulator.jobs["j"]
    assert 'plugin="workflow-job@' in saved and "DeclarativeJobAction" in saved
    assert normalised_config(saved) == normalised_config(job_config_xml(job))


def test_a_config_jenkins_wrote_in_xml_1_1_that_cannot_be_compared_is_replaced(emulator, tmp_path):
    applied(emulator, tmp_path)
    emulator.jobs["bash-hello"] = emulator.jobs["bash-hello"].replace("A bash notebook", "A &#x1; bash notebook")
    result = applied(emulator, tmp_path)
    assert actions(result.stdout)["bash-hello"] == "updated"
    assert "cannot be compared" in result.stdout
    assert actions(applied(emulator, tmp_path).stdout)["bash-hello"] == "unchanged"


def test_apply_refuses_a_parameter_the_notebook_does_not_declare_and_a_missing_notebook(emulator, tmp_path):
    jobs_yaml = edited_example(tmp_path, "      seed: 42\n", "      seed: 42\n      momentum: 0.9\n")
    result = cli("apply", str(jobs_yaml), env=cli_env(tmp_path, emulator))
    assert result.returncode == 5
    assert "job 'train-nightly': examples/train.ipynb does not declare momentum" in result.stderr
    missing = edited_example(tmp_path, "notebook: examples/bash.ipynb", "notebook: examples/gone.ipynb")
    result = cli("apply", str(missing), "--dry-run", env=cli_env(tmp_path, emulator))
    assert result.returncode == 5 and "job 'bash-hello': notebook examples/gone.ipynb not found" in result.stderr
    assert emulator.jobs == {} and emulator.posts() == []


def test_dry_run_without_a_reachable_jenkins_prints_each_generated_pipeline_script(tmp_path):
    for env in (cli_env(tmp_path), cli_env(tmp_path, JENKINS_URL="http://127.0.0.1:9/")):
        result = cli("apply", str(EXAMPLE), "--dry-run", env=env)
        assert result.returncode == 0, result.stderr
        for name in EXAMPLE_JOBS:
            assert f"--- pipeline script of {name} ---" in result.stdout
        assert result.stdout.count("jupyterNotebook(") == len(EXAMPLE_JOBS)
        assert "not compared with Jenkins (dry run)" in result.stdout
    assert "cannot reach Jenkins at http://127.0.0.1:9/" in result.stderr
    assert cli("apply", str(EXAMPLE), env=cli_env(tmp_path, JENKINS_URL="http://127.0.0.1:9/")).returncode == 5


# -- the emulator answers as Jenkins documents ---------------------------------------------


def raw(emulator: JenkinsEmulator, method: str, path: str, crumb: bool = True, **kwargs):
    headers = {"Jenkins-Crumb": emulator.crumb} if crumb else {}
    auth = (emulator.user, emulator.api_token)
    return requests.request(method, emulator.url + path, auth=auth, headers=headers, timeout=10, **kwargs)


def test_the_emulator_answers_create_item_for_an_existing_name_with_400_like_jenkins(emulator, tmp_path):
    applied(emulator, tmp_path)
    response = raw(emulator, "POST", "createItem?name=bash-hello", data=b"<flow-definition/>")
    assert response.status_code == 400
    assert response.headers["X-Error"] == "A job already exists with the name 'bash-hello'"


def test_the_emulator_wants_a_crumb_on_posts_and_knows_no_unknown_job(emulator):
    assert raw(emulator, "POST", "createItem?name=x", crumb=False, data=b"<flow-definition/>").status_code == 403
    assert raw(emulator, "GET", "job/x/api/json").status_code == 404
    response = raw(emulator, "GET", "api/json")
    assert response.status_code == 200 and response.headers["X-Jenkins"]


def test_timeouts_reach_the_step_as_whole_seconds_rounded_up():
    (job,) = parse_jobs({"jobs": {"j": {"notebook": "n.ipynb", "timeout": "1.5m", "cell_timeout": 0.5}}})
    script = pipeline_script(job)
    assert "timeout: 90,\n" in script and "cellTimeout: 1,\n" in script
