//! The names the load scenario uses: its subjects, their manager, their session, the
//! departments they hold `admin_approver` on, and the question asked about them.

use crate::proto::v1 as pb;

/// Checks are asked in this session.
pub(super) const SESSION: &str = "load";
/// The manager who approves the load subjects.
pub(super) const MANAGER: &str = "load-manager";
/// The permission every Check asks about.
pub(super) const PERMISSION: &str = "purchase_orders.approve";

/// The `index`th load subject.
pub(super) fn load_subject(index: usize) -> String {
    format!("load-{index}")
}

/// The `index`th department: the scope of a subject's `index`th grant.
pub(super) fn department(index: usize) -> String {
    format!("Org:Procurement/Dept:{index}")
}

/// May `subject` approve purchase orders on `resource`, in the load session?
pub(super) fn question(subject: String, resource: String) -> pb::CheckRequest {
    pb::CheckRequest {
        subject,
        session_id: SESSION.into(),
        permission: PERMISSION.into(),
        resource,
        ..Default::default()
    }
}

/// Does `subject` hold its grant on the `grant`th department? (A purchase order in it.)
pub(super) fn held_question(subject: String, grant: usize) -> pb::CheckRequest {
    question(subject, format!("{}/PO:1", department(grant)))
}
