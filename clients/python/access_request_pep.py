#!/usr/bin/env python3
"""An enforcement point written as an outsider would write it: it knows the AuthZEN
Authorization API and the Access Request and Approval profile, nothing of elevator. Standard
library only.

It reads the decision point's metadata (`/.well-known/authzen-configuration`), asks whether
the subject may do the action, and on a requestable denial fetches the request schema, fills
in what the schema requires, submits the access request with an Idempotency-Key and polls the
task's status endpoint until the task ends. Approved, it evaluates again with the approval at
`context.approval` unchanged. It also tries what an attacker at the PEP would: a binding token
altered by one character, and the approval presented for another resource.

    PEP_TOKEN=... python clients/python/access_request_pep.py --base http://127.0.0.1:8080 \
        --subject jerry@the-smiths.com --resource-type todo --resource-id todo-1 \
        --action can_create_todo --other-resource-id todo-2 --reason "release notes"

The program reports on stdout, one JSON object a line: `{"event": "submitted", ...}` once the
task exists, `{"event": "allowed", ...}` once the re-evaluation allowed. With `--wait-for-end`
it then reads one line from stdin (whoever runs it ends the grant meanwhile: expiry or
revocation) and evaluates once more. The last line is `{"event": "summary", ...}`. It exits
non-zero when anything was not as the profile says.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

PROFILE_CAPABILITY = "urn:openid:authzen:capability:access-request"
POLL_DEADLINE_SECONDS = 120


def report(event, **members):
    print(json.dumps({"event": event, **members}), flush=True)


def expect(condition, what):
    if not condition:
        raise SystemExit(f"unexpected: {what}")


class Pdp:
    """The decision point as seen over HTTP with a bearer token."""

    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, url, body=None, headers=None):
        """(status, JSON body or None, response headers) of one request to `url`."""
        if url.startswith("/"):
            url = self.base + url
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, parse(response.read()), response.headers
        except urllib.error.HTTPError as error:
            return error.code, parse(error.read()), error.headers

    def evaluate(self, metadata, question):
        status, answer, _ = self.call(
            "POST", metadata["access_evaluation_endpoint"], question
        )
        expect(status == 200, f"evaluation answered {status}: {answer}")
        return answer


def parse(raw):
    return json.loads(raw) if raw else None


def augment(question, schema, reason):
    """The submission's context: the denied question's context plus what the schema requires."""
    context = dict(question.get("context", {}))
    required = schema.get("properties", {}).get("context", {}).get("required", [])
    for member in required:
        if member == "business_justification":
            context[member] = reason
        elif member not in context:
            # A form this client cannot fill: the profile says not to submit.
            raise SystemExit(f"cannot supply the required context member {member}")
    return context


def submission(question, denial, context, client_id):
    offer = denial["context"]["access_request"]
    binding = {"expires_at": offer["expires_at"]}
    for member in ("evaluation_id", "evaluated_at", "reason"):
        if member in denial["context"]:
            binding[member] = denial["context"][member]
    for member in ("binding_token", "template"):
        if member in offer:
            binding[member] = offer[member]
    return {
        "subject": question["subject"],
        "resource": question["resource"],
        "action": question["action"],
        "context": context,
        "denial": binding,
        "client": {
            "id": client_id,
            "name": "Outsider PEP",
            "actor": {"id": "python-pep", "type": "service"},
        },
    }


def altered(token):
    """`token` with its last character changed: a forgery a PEP might try."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def poll(pdp, status_endpoint):
    """The task's status document once it is no longer pending."""
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    while True:
        status, document, _ = pdp.call("GET", status_endpoint)
        expect(status == 200, f"status endpoint answered {status}: {document}")
        if document["task"]["status"] != "pending":
            return document
        expect(time.monotonic() < deadline, "the task stayed pending")
        retry_after = document["task"].get("retry_after", 0.2)
        time.sleep(min(max(float(retry_after), 0.05), 1.0))


def request_access(pdp, metadata, question, reason, client_id):
    """Denial -> schema -> submission; returns the summary's parts and the status endpoint."""
    denial = pdp.evaluate(metadata, question)
    expect(denial["decision"] is False, f"a denial first: {denial}")
    offer = denial.get("context", {}).get("access_request")
    expect(offer is not None, f"the denial is requestable: {denial}")
    endpoint = offer.get("endpoint", metadata.get("access_request_endpoint"))
    schema = {}
    if "request_schema_url" in offer:
        status, schema, _ = pdp.call("GET", offer["request_schema_url"])
        expect(status == 200, f"the request schema answered {status}")
    body = submission(question, denial, augment(question, schema, reason), client_id)

    forged = json.loads(json.dumps(body))
    forged["denial"].pop("evaluation_id", None)
    forged["denial"]["binding_token"] = altered(body["denial"]["binding_token"])
    status, problem, _ = pdp.call(
        "POST", endpoint, forged, {"Idempotency-Key": str(uuid.uuid4())}
    )
    altered_binding = {"status": status, "type": (problem or {}).get("type")}

    key = str(uuid.uuid4())
    status, answer, headers = pdp.call("POST", endpoint, body, {"Idempotency-Key": key})
    expect(status in (201, 202), f"submission answered {status}: {answer}")
    task = answer["task"]
    retried, again, _ = pdp.call("POST", endpoint, body, {"Idempotency-Key": key})
    expect(retried in (200, 201, 202), f"a retry answered {retried}: {again}")
    parts = {
        "denial_reason": denial["context"].get("reason"),
        "required_context": sorted(
            schema.get("properties", {}).get("context", {}).get("required", [])
        ),
        "altered_binding": altered_binding,
        "submitted": status,
        "first_status": task["status"],
        "awaiting": task.get("progress", {}).get("awaiting", []),
        "location_is_status_endpoint": headers.get("Location") == task["status_endpoint"],
        "idempotent_retry_same_task": again["task"]["id"] == task["id"],
    }
    report("submitted", task_id=task["id"], status=task["status"])
    return parts, task["status_endpoint"]


def main():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--base", required=True)
    arguments.add_argument("--subject", required=True)
    arguments.add_argument("--resource-type", required=True)
    arguments.add_argument("--resource-id", required=True)
    arguments.add_argument("--action", required=True)
    arguments.add_argument("--other-resource-id", required=True)
    arguments.add_argument("--session-id")
    arguments.add_argument("--reason", default="needed for my work")
    arguments.add_argument("--client-id", default="outsider-pep")
    arguments.add_argument("--wait-for-end", action="store_true")
    options = arguments.parse_args()
    pdp = Pdp(options.base, os.environ["PEP_TOKEN"])

    status, metadata, _ = pdp.call("GET", "/.well-known/authzen-configuration")
    expect(status == 200, f"metadata answered {status}")
    expect(
        PROFILE_CAPABILITY in metadata.get("capabilities", []),
        f"the decision point lists the profile: {metadata}",
    )
    context = {"access_request_profile": True}
    if options.session_id:
        context["session_id"] = options.session_id

    def question(resource_id, approval=None):
        asked = {
            "subject": {"type": "user", "id": options.subject},
            "resource": {"type": options.resource_type, "id": resource_id},
            "action": {"name": options.action},
            "context": dict(context),
        }
        if approval is not None:
            asked["context"]["approval"] = approval
        return asked

    summary, status_endpoint = request_access(
        pdp, metadata, question(options.resource_id), options.reason, options.client_id
    )
    done = poll(pdp, status_endpoint)
    summary["final_status"] = done["task"]["status"]
    result = done.get("result", {})
    expect(result.get("mode") == "reevaluate", f"an approval to present: {done}")
    approval = result["approval"]

    allowed = pdp.evaluate(metadata, question(options.resource_id, approval))
    summary["after_approval"] = allowed["decision"]
    summary["approval_echoed"] = allowed.get("context", {}).get("approval", {}).get("id") == approval["id"]
    other = pdp.evaluate(metadata, question(options.other_resource_id, approval))
    summary["replayed_for_other_resource"] = {
        "decision": other["decision"],
        "reason": other.get("context", {}).get("reason"),
        "next_action": other.get("context", {}).get("next_action"),
    }
    report("allowed", approved_until=approval.get("approved_until"))

    if options.wait_for_end:
        sys.stdin.readline()
        ended = pdp.evaluate(metadata, question(options.resource_id, approval))
        summary["after_end"] = {
            "decision": ended["decision"],
            "reason": ended.get("context", {}).get("reason"),
            "next_action": ended.get("context", {}).get("next_action"),
            "requestable_again": "access_request" in ended.get("context", {}),
        }
    report("summary", **summary)


if __name__ == "__main__":
    main()
