#!/usr/bin/env python3
"""The Fatma example from Python: request, approve, check, revoke, and errors branched on
by their google.rpc details. Proves the protos serve a client that is not Rust.

Generate the stubs first (into any directory on PYTHONPATH):

    pip install grpcio grpcio-tools grpcio-status
    python -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen \
        proto/elevator/v1/*.proto
    PYTHONPATH=gen python clients/python/fatma.py --target 127.0.0.1:50051

Tokens come from the environment: FATMA_TOKEN (procurement-staff, manager ali, sid s1),
ALI_TOKEN (her manager), PEP_TOKEN (role elevator:check). `elevator dev-token` makes them
for a dev-mode server. Prints one JSON line summarising what happened; exits non-zero if
anything was not as expected.
"""

import argparse
import json
import os
import sys

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from elevator.v1 import (
    approval_service_pb2,
    approval_service_pb2_grpc,
    check_service_pb2,
    check_service_pb2_grpc,
    elevation_service_pb2,
    elevation_service_pb2_grpc,
)


def bearer(token):
    return [("authorization", f"Bearer {token}")]


def error_details(error):
    """The ErrorInfo reason and the BadRequest fields of a failed call."""
    status = rpc_status.from_call(error)
    reason, fields = "", []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields += [violation.field for violation in bad_request.field_violations]
    return {"code": error.code().name, "reason": reason, "fields": fields}


def expect(condition, what):
    if not condition:
        raise SystemExit(f"unexpected: {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    args = parser.parse_args()
    fatma, ali, pep = (os.environ[name] for name in ("FATMA_TOKEN", "ALI_TOKEN", "PEP_TOKEN"))

    channel = grpc.insecure_channel(args.target)
    elevations = elevation_service_pb2_grpc.ElevationServiceStub(channel)
    approvals = approval_service_pb2_grpc.ApprovalServiceStub(channel)
    checks = check_service_pb2_grpc.CheckServiceStub(channel)
    summary = {}

    def check():
        return checks.Check(
            check_service_pb2.CheckRequest(
                subject="fatma",
                session_id="s1",
                permission="purchase_orders.approve",
                resource="Org:Procurement/PO:4711",
            ),
            metadata=bearer(pep),
        )

    # Fatma asks for admin_approver on Org:Procurement for two hours.
    requested = elevations.RequestElevation(
        elevation_service_pb2.RequestElevationRequest(
            role="admin_approver",
            scope="Org:Procurement",
            duration=duration_pb2.Duration(seconds=2 * 3600),
            reason="Q4 close",
        ),
        metadata=bearer(fatma),
    ).elevation
    summary["requested"] = requested.id
    before = check()
    expect(not before.allowed, "allowed before approval")
    summary["before_approval"] = check_service_pb2.DecisionReason.Name(before.reason)

    # Fatma cannot approve her own request; the error says why in a way code can read.
    try:
        approvals.Approve(
            approval_service_pb2.ApproveRequest(elevation_id=requested.id), metadata=bearer(fatma)
        )
        expect(False, "fatma approved her own request")
    except grpc.RpcError as error:
        summary["self_approval"] = error_details(error)

    # Ali sees it waiting for him and approves.
    pending = approvals.ListPendingApprovals(
        approval_service_pb2.ListPendingApprovalsRequest(), metadata=bearer(ali)
    ).elevations
    expect([e.id for e in pending] == [requested.id], f"ali's queue is {pending}")
    approved = approvals.Approve(
        approval_service_pb2.ApproveRequest(elevation_id=requested.id, comment="ok"),
        metadata=bearer(ali),
    )
    summary["grant"] = approved.grant.id

    after = check()
    expect(after.allowed and after.grant_id == approved.grant.id, f"check after approval: {after}")
    summary["after_approval"] = check_service_pb2.DecisionReason.Name(after.reason)

    # Errors carry google.rpc details to branch on: a malformed scope names its field.
    try:
        elevations.RequestElevation(
            elevation_service_pb2.RequestElevationRequest(
                role="admin_approver",
                scope="Org:Procurement//",
                duration=duration_pb2.Duration(seconds=3600),
                reason="typo",
            ),
            metadata=bearer(fatma),
        )
        expect(False, "a malformed scope was accepted")
    except grpc.RpcError as error:
        summary["bad_scope"] = error_details(error)

    # Fatma gives the role back; the next check is denied.
    elevations.RevokeGrant(
        elevation_service_pb2.RevokeGrantRequest(grant_id=approved.grant.id, reason="done"),
        metadata=bearer(fatma),
    )
    revoked = check()
    expect(not revoked.allowed, "allowed after revocation")
    summary["after_revocation"] = check_service_pb2.DecisionReason.Name(revoked.reason)

    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
